"""The event detector on plain motion signals (no images): what is an event, what is not, and when."""

from __future__ import annotations

import numpy as np
import pytest

from app.spotting_events import EventDetector
from app.spotting_options import SpottingOptions
from app.spotting_signal import MotionSample

FPS = 30.0


def _bump(t: np.ndarray, centre: float, width: float, height: float) -> np.ndarray:
    """A raised-cosine bump of full width ``width`` seconds."""
    x = np.clip((t - centre) / (width / 2), -1, 1)
    return height * 0.5 * (1 + np.cos(np.pi * x))


def _run(value, held=None, nuisance=None, options=None, fps=FPS):
    n = len(value)
    held = np.zeros(n) if held is None else held
    nuisance = np.zeros(n, bool) if nuisance is None else nuisance
    detector = EventDetector(fps, options or SpottingOptions())
    samples, events = [], []
    for i in range(n):
        m = MotionSample(i, i / fps, float(value[i]), float(value[i]), float(held[i]), bool(nuisance[i]))
        sample, found = detector.push(m)
        samples.append(sample)
        events += found
    return events + detector.finish(), samples


def _noise(seconds: float, level: float = 0.12, sigma: float = 0.03, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Regional motion of a still face: positive, skewed, smoothed over 3 frames like the real signal."""
    t = np.arange(int(seconds * FPS)) / FPS
    raw = np.abs(np.random.default_rng(seed).normal(0, sigma, t.size + 2))
    return t, level + np.convolve(raw, np.ones(3) / 3, mode="valid")


def test_a_burst_is_one_micro_event_at_its_apex():
    t, value = _noise(6.0)
    value += _bump(t, 3.0, 0.3, 1.0)
    events, _ = _run(value)
    assert len(events) == 1
    e = events[0]
    assert e.kind == "micro" and not e.open_ended
    assert abs(e.apex - 90) <= 1 and e.onset < e.apex < e.offset and e.score > 1


def _burst_with_a_long_release(second_burst: bool) -> np.ndarray:
    """A burst whose release lingers 0.6 s between the threshold and its fall-back level (30 % of the
    peak), optionally with a second burst rising out of that tail."""
    t, value = _noise(7.0)
    value += _bump(t, 3.0, 0.3, 3.0)
    value += np.where((t > 3.15) & (t < 3.75), 0.6, 0.0)
    if second_burst:
        value += _bump(t, 3.65, 0.3, 2.0)
    return value


def test_the_tail_of_a_release_is_no_new_event():
    """Below the fall-back level for the refractory time, the event ends; the signal still coming down from
    it (above the threshold) starts no second event."""
    events, samples = _run(_burst_with_a_long_release(second_burst=False))
    tail = [s for s in samples if 3.3 <= s.timestamp <= 3.7]
    assert all(s.threshold < s.value for s in tail)  # the tail is above the threshold ...
    assert len(events) == 1 and abs(events[0].apex - 90) <= 1, events  # ... and no event of its own


def test_a_burst_rising_out_of_a_release_is_its_own_event():
    events, _ = _run(_burst_with_a_long_release(second_burst=True))
    assert len(events) == 2 and abs(events[1].apex - round(3.65 * FPS)) <= 2, events


def test_a_head_turn_or_lighting_step_is_no_event():
    """The signal part flags a change of pose or light (the compared frames differ in the nose and face
    sides, or in brightness) and moves its rest reference there, so nothing is held afterwards."""
    t, value = _noise(6.0)
    turn = _bump(t, 3.0, 0.4, 1.5)  # the ramp of a turn, seen half by the two-sided transient motion
    events, _ = _run(value + turn, nuisance=turn > 0.2)
    assert events == []
    step = (t >= 3.0) & (t < 3.0 + 1 / FPS)  # an instant lighting step: no transient, one flagged frame
    events, _ = _run(value + 0.5 * step, nuisance=step)
    assert events == []


@pytest.mark.parametrize("height", [2.0, 1.7])
def test_a_held_expression_is_one_event_from_onset_to_release(height):
    """Neutral, a smile held for 5 s (longer than the long window), released: one macro event whose apex
    is where the displacement levels off and whose offset is the release. 1.7 px: a rendered macro upper
    lip raise (AU10) held 3.5 s displaced the face 1.9-2.1 px from a rest 0.2 px away (seed-8 development
    set), and was cut into four events while holding needed 2 px."""
    t, value = _noise(12.0)
    onset, release = 3.0, 8.0
    rise = np.clip((t - onset) / 0.4, 0, 1) * (t < release) + np.clip(1 - (t - release) / 0.4, 0, 1) * (t >= release)
    held = height * (0.5 - 0.5 * np.cos(np.pi * rise))
    value = value + _bump(t, onset + 0.2, 0.4, 1.0) + _bump(t, release + 0.2, 0.4, 1.0)  # ramps, seen half
    events, _ = _run(value, held=held)
    assert len(events) == 1, events
    e = events[0]
    assert e.kind == "macro" and not e.open_ended
    assert abs(e.onset_time - onset) < 0.15 and abs(e.offset_time - (release + 0.4)) < 0.3
    assert onset + 0.2 < e.apex_time < onset + 0.5


def test_a_held_expression_with_a_step_onset_is_one_event_but_a_brief_step_is_none():
    """A contempt (AU14) reaches 2.4 px in 3 frames and holds 4.5 s: its transient motion is the ramp's
    3 frames, below the threshold once smoothed (the frames a half window later are on the plateau
    already), so only the displacement from rest shows it (held-out synthetic set: never spotted). Speech
    steps away from rest and back within a few hundred milliseconds: no event."""
    t, value = _noise(12.0)
    ramp = np.clip((t - 3.0) / 0.1, 0, 1) * (t < 7.5)
    events, samples = _run(value + _bump(t, 3.05, 0.1, 0.15), held=2.4 * ramp)
    assert max(s.value - s.threshold for s in samples) < 0  # no transient crossing
    assert len(events) == 1 and abs(events[0].onset_time - 3.0) < 0.1 and abs(events[0].offset_time - 7.5) < 0.2
    assert events[0].apex - events[0].onset >= 2  # the onset before the ramp: the onset→apex flow sees it
    brief = 2.4 * ((t >= 3.0) & (t < 3.2))
    assert _run(value, held=brief)[0] == []


def test_an_expression_held_to_the_end_is_open_ended():
    t, value = _noise(4.0)
    held = 2.0 * (0.5 - 0.5 * np.cos(np.pi * np.clip((t - 1.5) / 0.4, 0, 1)))
    events, _ = _run(value + _bump(t, 1.7, 0.4, 1.0), held=held)
    assert len(events) == 1 and events[0].open_ended
    assert events[0].offset == len(t) - 1 and abs(events[0].onset_time - 1.5) < 0.15


def test_a_burst_at_the_end_of_the_stream_is_flushed():
    t, value = _noise(5.0)
    events, _ = _run(value + _bump(t, 4.9, 0.3, 1.0))  # still rising-and-falling as the source ends
    assert len(events) == 1 and events[0].apex_time > 4.7


@pytest.mark.parametrize("seconds", [2.0, 3.0])
def test_a_short_clip_gets_its_expression(seconds):
    """The threshold starts from a prior for a still face, so one second of face is enough."""
    t, value = _noise(seconds)
    events, samples = _run(value + _bump(t, 1.0, 0.3, 0.8))
    assert len(events) == 1 and abs(events[0].apex_time - 1.0) < 0.05
    assert samples[0].threshold < 1.0  # a threshold from the first frame on


def test_the_threshold_follows_the_data_within_a_second():
    _, value = _noise(3.0, level=0.6, sigma=0.05)
    _, samples = _run(value)
    median = float(np.median(value))
    assert samples[int(FPS)].baseline > 0.7 * median  # the prior (0.15 px) is outweighed within a second
    assert samples[-1].baseline > 0.85 * median
    events, _ = _run(value)
    assert events == []  # a noisier face than the prior is not an event


def test_lasting_activity_raises_the_threshold_instead_of_firing_a_storm():
    """Speech-like motion (57 bursts, ~3 per second for 20 s): merged into a few events while the threshold
    rises to it, not one event per burst."""
    t, value = _noise(20.0)
    rng = np.random.default_rng(1)
    for centre in np.arange(1.0, 19.5, 0.33):
        value += _bump(t, centre + rng.uniform(-0.05, 0.05), 0.25, rng.uniform(0.6, 1.2))
    events, samples = _run(value)
    assert samples[-1].threshold > 0.6
    assert len(events) <= 8, [(e.onset_time, e.offset_time) for e in events]


def test_a_burst_flagged_as_pose_or_cover_through_most_of_it_is_dropped_even_if_not_at_its_peak():
    """A hand or a turn is flagged on most of its frames but not always at the highest one; an expression
    that shares a few frames with such a flag is kept."""
    t, value = _noise(6.0)
    value += _bump(t, 2.0, 0.5, 1.0) + _bump(t, 4.0, 0.5, 1.0)
    nuisance = np.zeros(t.size, bool)
    nuisance[(t > 1.8) & (t < 2.2) & (np.abs(t - 2.0) > 0.02)] = True  # around the first peak, not at it
    nuisance[(t > 3.85) & (t < 3.92)] = True  # two frames on the second burst's rise
    events, _ = _run(value, nuisance=nuisance)
    assert len(events) == 1 and abs(events[0].apex - 120) <= 1


def test_a_plateau_shorter_than_the_long_window_is_one_event_with_its_release():
    """A 2-s held expression: the two-sided transient motion sees the plateau as large as its displacement
    (neutral frames on both sides), then drops before the release while the face is still displaced. One
    event from onset to release, not a short event and a second one on the release (seen on the
    development set: a held surprise cut at its plateau's end, its release spotted as a micro-expression)."""
    t, value = _noise(10.0)
    onset, release = 3.0, 5.0
    rise = np.clip((t - onset) / 0.3, 0, 1) * (t < release) + np.clip(1 - (t - release) / 0.3, 0, 1) * (t >= release)
    held = 3.0 * (0.5 - 0.5 * np.cos(np.pi * rise))
    plateau = ((t > onset + 0.4) & (t < release - 0.3)).astype(float)
    value = value + _bump(t, onset + 0.15, 0.3, 1.2) + 3.0 * np.convolve(plateau, np.ones(5) / 5, "same")
    value += _bump(t, release + 0.15, 0.3, 1.5)  # the release, seen half by the transient motion
    events, _ = _run(value, held=held)
    assert len(events) == 1, [(e.onset_time, e.offset_time) for e in events]
    assert abs(events[0].onset_time - onset) < 0.15 and abs(events[0].offset_time - (release + 0.3)) < 0.3


def test_the_threshold_comes_back_down_after_speech():
    """2.5 s of speech fill most of the baseline's 4-s history with motion far above the threshold. Entering
    the history clipped to the threshold, those values raised the median and the spread in turn (0.9 px
    here, 1.5-2.6 px for seconds after speech on the development set: 20-30 times the still face's
    signal); clipped below it, the threshold stays near the still face's and a 0.5-px micro-expression
    1.5 s after the speech is spotted."""
    t, value = _noise(10.0)
    rng = np.random.default_rng(2)
    for centre in np.arange(1.5, 4.1, 0.25):
        value += _bump(t, centre, 0.3, rng.uniform(1.5, 4.0))
    value += _bump(t, 5.5, 0.25, 0.5)
    events, samples = _run(value)
    assert samples[int(5.3 * FPS)].threshold < 0.5
    assert any(abs(e.apex_time - 5.5) < 0.1 for e in events), [(e.onset_time, e.offset_time) for e in events]


def test_a_face_that_comes_back_keeps_its_baseline():
    """A face lost for a second (its track flushed with ``finish``) comes back in the middle of a release:
    the first second's motion must not set the threshold of the seconds after it, which would hide a
    micro-expression there (the second development set: a threshold 20-40 times the still face's for 4 s)."""
    _, still = _noise(6.0)
    t, back = _noise(5.0, seed=3)
    back += _bump(t, 0.7, 1.6, 4.0)  # an expression releasing as the face is found again
    back += _bump(t, 3.0, 0.3, 0.6)  # a micro-expression two seconds later
    detector = EventDetector(FPS, SpottingOptions())
    for i, v in enumerate(still):
        detector.push(MotionSample(i, i / FPS, float(v), float(v), 0.0, False))
    detector.finish()
    found = []
    for i, v in enumerate(back):
        found += detector.push(MotionSample(300 + i, 10 + i / FPS, float(v), float(v), 0.0, False))[1]
    found += detector.finish()
    assert any(abs(e.apex_time - 13.0) < 0.1 for e in found), [(e.onset_time, e.apex_time) for e in found]
    fresh, _ = _run(back)  # a new face's detector: the release sets its threshold
    assert not any(abs(e.apex_time - 3.0) < 0.1 for e in fresh)
