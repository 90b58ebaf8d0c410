"""The spotter on videos with a known synthetic motion, decoded from real files by OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline import EventResult, Pipeline, SpotSample
from app.sources import open_source
from app.spotting import SpottingOptions
from models.synth import ExpressionEvent, NuisanceOptions, render_sequence
from tests.conftest import write_video


def _analyse(path) -> tuple[list, list]:
    with open_source(path) as source, Pipeline(source.info.fps) as pipeline:
        results = list(pipeline.run(source, live=False))
    return ([r.event for r in results if isinstance(r, EventResult)],
            [r for r in results if isinstance(r, SpotSample)])


@pytest.mark.parametrize("fps", [30, 200])
def test_a_single_region_micro_expression_is_spotted_at_its_apex(tmp_path, fps):
    """Only the mouth corners move (AU12, ~1.5 px on the aligned crop) for 260 ms; apex within 2 frames."""
    event = ExpressionEvent({"12": 1.0}, onset_s=1.50, apex_s=1.62, offset_s=1.76)
    frames, truth = render_sequence("astronaut", [event], fps=fps, duration_s=3.2, seed=1,
                                    nuisances=NuisanceOptions(noise_sigma=1.0))
    spotted, samples = _analyse(write_video(tmp_path / "au12.avi", frames, fps))
    true_apex = truth.intervals[0].apex
    assert len(spotted) == 1, [(e.onset_frame, e.apex_frame, e.offset_frame) for e in spotted]
    found = spotted[0]
    assert abs(found.apex_frame - true_apex) <= 2
    assert found.kind == "micro" and found.onset_frame < found.apex_frame < found.offset_frame
    assert found.onset_time < event.apex_s < found.offset_time
    # the signal is exposed per frame and crosses its threshold only around the event
    above = [s.frame for s in samples if s.value > s.threshold]
    assert above and min(above) >= truth.intervals[0].onset - 2 and max(above) <= truth.intervals[0].offset + 2


def test_blinks_and_a_still_face_give_no_event(tmp_path):
    blinks = [ExpressionEvent({"45": 1.0}, onset_s=t, apex_s=t + 0.08, offset_s=t + 0.22) for t in (1.0, 2.4)]
    frames, _ = render_sequence("grace_hopper", blinks, fps=30, duration_s=3.6, seed=2,
                                nuisances=NuisanceOptions(noise_sigma=1.0, head_translation_px=1.0))
    spotted, samples = _analyse(write_video(tmp_path / "blinks.avi", frames, 30))
    assert spotted == [] and samples


def test_a_macro_expression_is_one_macro_event(tmp_path):
    event = ExpressionEvent({"6": 3.0, "12": 3.0}, onset_s=1.7, apex_s=2.1, offset_s=3.1, hold_s=0.4)
    frames, truth = render_sequence("astronaut", [event], fps=30, duration_s=5.0, seed=3,
                                    nuisances=NuisanceOptions(noise_sigma=1.0))
    spotted, _ = _analyse(write_video(tmp_path / "macro.avi", frames, 30))
    assert len(spotted) == 1 and spotted[0].kind == "macro"
    interval = truth.intervals[0]
    overlap = min(spotted[0].offset_frame, interval.offset) - max(spotted[0].onset_frame, interval.onset)
    union = max(spotted[0].offset_frame, interval.offset) - min(spotted[0].onset_frame, interval.onset)
    assert overlap / union >= 0.5


def test_a_short_clip_with_a_smile_held_to_the_end_gets_one_open_ended_event(tmp_path):
    """2.5 s: neutral, then a smile that is still held when the recording stops."""
    smile = ExpressionEvent({"6": 3.0, "12": 3.0}, onset_s=1.0, apex_s=1.4, offset_s=9.0, hold_s=7.0)
    frames, _ = render_sequence("astronaut", [smile], fps=30, duration_s=2.5, seed=1,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    spotted, samples = _analyse(write_video(tmp_path / "held.avi", frames, 30))
    assert len(spotted) == 1 and spotted[0].open_ended and spotted[0].kind == "macro"
    assert spotted[0].offset_frame == len(frames) - 1 and abs(spotted[0].onset_time - 1.0) < 0.15
    assert spotted[0].to_json()["open_ended"] is True
    assert samples[-1].frame == len(frames) - 1  # the signal runs to the last frame


def test_a_face_missed_for_a_few_frames_does_not_cut_a_held_smile(tmp_path):
    """The tracker loses the face for 3 frames (100 ms) in the middle of a held smile (seen on the
    development set under a broad smile): the spotting track bridges the gap, so the smile is one event
    from onset to release, not an open-ended event at the gap and a second one on the release."""
    smile = ExpressionEvent({"6": 3.0, "12": 3.0}, onset_s=1.0, apex_s=1.4, offset_s=3.8, hold_s=2.0)
    frames, truth = render_sequence("astronaut", [smile], fps=30, duration_s=5.0, seed=1,
                                    nuisances=NuisanceOptions(noise_sigma=1.0))
    for i in (75, 76, 77):
        frames[i] = np.full_like(frames[i], 128)  # no face in these frames
    spotted, _ = _analyse(write_video(tmp_path / "gap.avi", frames, 30))
    assert len(spotted) == 1, [(e.onset_frame, e.offset_frame, e.open_ended) for e in spotted]
    interval = truth.intervals[0]
    assert not spotted[0].open_ended and spotted[0].onset_frame < 40 and spotted[0].offset_frame > interval.offset - 10


def test_a_burst_in_the_last_half_second_is_spotted(tmp_path):
    burst = ExpressionEvent({"12": 1.5, "6": 1.0}, onset_s=2.3, apex_s=2.45, offset_s=2.7)
    frames, _ = render_sequence("grace_hopper", [burst], fps=30, duration_s=2.8, seed=2,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    spotted, _ = _analyse(write_video(tmp_path / "burst.avi", frames, 30))
    assert len(spotted) == 1 and abs(spotted[0].apex_time - 2.45) < 0.1 and not spotted[0].open_ended


def test_window_lengths_are_milliseconds_converted_with_the_fps():
    from app.spotting import Spotter

    for fps in (30, 200):
        spotter = Spotter(fps, SpottingOptions(half_windows_ms=(500.0, 1600.0), smoothing_ms=50))
        assert spotter.delay_frames * 1000 / fps == pytest.approx(1600 + 25 + 60, abs=2 * 1000 / fps)
