"""The spotter's second part: events from the motion signal (``MotionSample``s, plain numbers).

An event starts where the transient motion crosses an adaptive threshold (baseline + sensitivity × robust
spread, at least a floor above the baseline), or where the face stepped away from its rest and held there
(``hold_start_ms``), and lasts while the transient motion stays above its
fall-back level (a fraction of the peak) or the face stays displaced from its rest (``held``), with dips
shorter than the refractory time merged. So an expression held for seconds is one event that ends when the
face returns to rest, and an event still running when the source ends is reported with the last frame as
its offset and ``open_ended`` set. An event whose peak is a change of head pose or lighting (``nuisance``)
is dropped.

The threshold is the recent past's median plus a spread measured below the median only, the spread starting
from a prior (a still face's) that the data outweigh within about a second
(expressions push the signal up, never down, so the lower half is the noise). After the first second,
values enter the history clipped below the threshold (``history_clip`` spreads above the baseline), so
events cannot ratchet the threshold up while a lasting rise of the noise (a lively speaker) is still
followed. Clipped to the threshold itself, 2 s of speech filled the history with threshold values that
raised the median and the spread in turn, and the threshold stood at 20-30 times the still face's signal
for seconds after the speech, hiding the micro-expressions there.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from app.median import median
from app.spotting_options import SpottingOptions
from app.spotting_signal import MotionSample

MICRO_MAX_MS = 500.0


@dataclass(frozen=True)
class SpotSample:
    """The spotting signal at one frame (known some frames after that frame arrived)."""

    frame: int
    timestamp: float
    value: float  # smoothed regional motion, pixels on the crop
    threshold: float
    baseline: float
    face_id: int = 0  # whose signal (the pipeline's face track; app.face_tracks)


@dataclass(frozen=True)
class SpottedInterval:
    onset: int
    apex: int
    offset: int
    onset_time: float
    apex_time: float
    offset_time: float
    peak: float  # signal at the apex, pixels
    score: float  # (peak - baseline) / (threshold - baseline): 1 at the threshold
    open_ended: bool = False  # still running when the source (or the face track) ended

    @property
    def duration_ms(self) -> float:
        return (self.offset_time - self.onset_time) * 1000.0

    @property
    def kind(self) -> str:
        return "micro" if self.duration_ms <= MICRO_MAX_MS else "macro"


class EventDetector:
    """Feed ``MotionSample``s in frame order with ``push``; ``finish`` at the end of the track."""

    def __init__(self, fps: float, options: SpottingOptions | None = None):
        self.options = o = options or SpottingOptions()
        self.history = o.frames(o.history_s * 1000, fps)
        self.warm_up = o.frames(1000, fps)  # the first second enters the history unclipped: it replaces the prior
        self.settle = o.frames(500, fps)  # no event starts before this much signal (one still up then does)
        self.prior_weight = o.prior_s * fps
        self.max_event = o.frames(max(o.max_event_ms, o.max_held_ms), fps)
        self.reset()

    def reset(self) -> None:
        self._history: deque[float] = deque(maxlen=self.history)
        self._recent: deque[tuple[SpotSample, MotionSample]] = deque(maxlen=self.history + self.max_event)
        self._active: list[tuple[SpotSample, MotionSample]] | None = None
        self._quiet_since: float | None = None
        self._held = False  # the active event has been held (displaced from rest) at some point
        self._held_before = 0.0
        self._last_offset = -1
        self._tail: float | None = None  # lowest signal since an event ended above the threshold (its release)

    def push(self, m: MotionSample) -> tuple[SpotSample, list[SpottedInterval]]:
        sample = self._sample(m)
        self._recent.append((sample, m))
        return sample, self._detect(sample, m)

    def finish(self) -> list[SpottedInterval]:
        """End of the track: whatever is in progress becomes an event (``open_ended`` if still up). The
        baseline's history is kept: when the same face comes back (it was lost for longer than a bridged
        miss), its still-face noise is known, and a first second of fresh, unclipped values (often the face
        settling, or an expression in progress) would set the threshold for the next seconds."""
        intervals = []
        if self._active:
            last_s, last_m = self._active[-1]
            interval = self._close(self._active, open_ended=self._up(self._active, last_s, last_m))
            intervals = [interval] if interval else []
        history = self._history
        self.reset()
        self._history = history
        return intervals

    def _sample(self, m: MotionSample) -> SpotSample:
        o = self.options
        past = np.array([*self._history, m.value])
        centre = float(median(past))
        below = centre - past[past < centre]
        spread = 1.4826 * float(median(below)) if below.size else 0.0  # MAD → σ for Gaussian noise
        weight = past.size / (past.size + self.prior_weight)  # a few samples' spread is no estimate yet
        baseline, spread = centre, weight * spread + (1 - weight) * o.prior_spread_px
        threshold = baseline + max(o.sensitivity * spread, o.min_amplitude_px)
        clip = baseline + min(o.history_clip, o.sensitivity) * spread
        self._history.append(m.value if len(self._history) < self.warm_up else min(m.value, clip))
        return SpotSample(m.frame, m.timestamp, m.value, threshold, baseline)

    def _levels(self, active: list[tuple[SpotSample, MotionSample]]) -> tuple[SpotSample, float, float]:
        """The event's highest sample, how far above the baseline the signal still counts as up (a fraction
        of the peak's rise, over each sample's own baseline, which may still be settling), and the
        displacement from rest that still counts as held: above the threshold and ``hold_min_px`` above its
        level just before the event (a stale rest reference stays below), whatever the transient peak. A
        plateau shorter than the long window shows in the transient motion as large as its displacement
        (the frames on both sides are neutral), so a rule asking the displacement to exceed the transient
        peak (1.5 ×, before) ended the event at the plateau's end and made its release a second event."""
        o = self.options
        peak = max((s for s, _ in active), key=lambda s: s.value)
        rise = o.boundary * (peak.value - peak.baseline)
        return peak, rise, max(peak.baseline + rise, peak.threshold, self._held_before + o.hold_min_px)

    def _up(self, active, s: SpotSample, m: MotionSample) -> bool:
        _, rise, hold = self._levels(active)
        return s.value >= s.baseline + rise or m.held >= hold

    def _detect(self, s: SpotSample, m: MotionSample) -> list[SpottedInterval]:
        o = self.options
        if self._active is None:
            if self._in_release(s):
                return []
            if len(self._history) < self.settle:
                return []
            if s.value > s.threshold:
                self._start([(s, m)])
            elif step := self._step_away():
                self._start(step)
            return []
        self._active.append((s, m))
        hold = self._levels(self._active)[2]
        if self._up(self._active, s, m):
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = s.timestamp
        quiet_ms = 0.0 if self._quiet_since is None else (s.timestamp - self._quiet_since) * 1000
        length_ms = (s.timestamp - self._active[0][0].timestamp) * 1000
        self._held = self._held or m.held >= hold
        cap = o.max_held_ms if self._held else o.max_event_ms
        if quiet_ms < o.refractory_ms and length_ms < cap:
            return []
        interval = self._close(self._active, open_ended=False)
        self._active = None
        self._tail = s.value if s.value > s.threshold else None
        return [interval] if interval else []

    def _start(self, first: list[tuple[SpotSample, MotionSample]]) -> None:
        self._active, self._quiet_since, self._held = list(first), None, False
        # the displacement from rest just before: a rest reference gone stale (slow drift, a change of pose
        # mid-expression) shows up here and must not count as holding
        start = first[0][0].timestamp
        reach = self.options.refractory_ms / 1000
        self._held_before = min(m.held for s, m in self._recent if 0 <= start - s.timestamp <= reach)

    def _step_away(self) -> list[tuple[SpotSample, MotionSample]] | None:
        """The samples since the face stepped away from its rest into a held expression, once it has held
        there for ``hold_start_ms``: displaced above the threshold and ``hold_min_px`` above its level just
        before, with no change of pose or light. A step onset shows in the transient motion for its ramp's
        few frames only (the frames a half window later are on the plateau already), below the threshold
        once smoothed: a contempt held 4.5 s with a 3-frame onset (2.4 px) was never spotted. Held only:
        speech steps away from rest and back within a few hundred milliseconds."""
        o = self.options
        last, last_motion = self._recent[-1]
        if last_motion.nuisance or last_motion.held < max(last.threshold, o.hold_min_px):  # cheap: runs every frame
            return None
        now, held_s, reach = last.timestamp, o.hold_start_ms / 1000, o.refractory_ms / 1000
        step = [(s, m) for s, m in self._recent if now - s.timestamp <= held_s and s.frame > self._last_offset]
        before = [m.held for s, m in self._recent if held_s < now - s.timestamp <= held_s + reach]
        if not before or now - step[0][0].timestamp < held_s - 1e-6:
            return None
        rest = min(before)
        if not all(not m.nuisance and m.held >= max(s.threshold, rest + o.hold_min_px) for s, m in step):
            return None
        # back over the step's ramp (as the onset of a transient goes back to its fall-back level): the
        # onset→apex flow must see the face move
        ramp = rest + o.boundary * (min(m.held for _, m in step) - rest)
        earlier = [(s, m) for s, m in self._recent if s.timestamp < step[0][0].timestamp and s.frame > self._last_offset]
        while earlier and earlier[-1][1].held >= ramp and not earlier[-1][1].nuisance:
            step.insert(0, earlier.pop())
        return step

    def _in_release(self, s: SpotSample) -> bool:
        """Whether the signal is still coming down from the last event: it ended above the threshold (below
        its fall-back level for the refractory time) and has neither gone below the threshold since nor
        risen again by a threshold's height above its lowest point. Such a tail is the release of the event
        that just ended, not a new one (the seed-8 development set: a macro surprise's last 0.3 s became a
        "negative" event, the brows coming down)."""
        if self._tail is None:
            return False
        self._tail = min(self._tail, s.value)
        if s.value <= s.threshold or s.value > self._tail + (s.threshold - s.baseline):
            self._tail = None
            return False
        return True

    def _close(self, active, open_ended: bool) -> SpottedInterval | None:
        peak, rise, hold = self._levels(active)
        up = [i for i, (s, m) in enumerate(active) if s.value >= s.baseline + rise or m.held >= hold]
        last_up = up[-1]
        offset = active[-1 if open_ended else min(last_up + 1, len(active) - 1)][0]
        # Onset: back from the first crossing to where the signal was last below the fall-back level,
        # never into the previous event.
        samples = [s for s, _ in self._recent if s.frame > self._last_offset]
        start = next(i for i, s in enumerate(samples) if s.frame == active[0][0].frame)
        while (start > 0 and samples[start - 1].value >= samples[start - 1].baseline + rise
               and (active[0][0].timestamp - samples[start - 1].timestamp) * 1000 < self.options.max_event_ms):
            start -= 1
        onset = samples[max(start - 1, 0)]
        self._last_offset = offset.frame
        flags = [m.nuisance for _, m in active[:last_up + 1]]
        if next(m for s, m in active if s.frame == peak.frame).nuisance or 2 * sum(flags) > len(flags):
            return None  # the head turned or the light changed (at the peak, or through most of the event)
        held = [m for s, m in active[:last_up + 1] if s.value < s.baseline + rise and m.held >= hold]
        if held:  # held past the transient: the apex is where the displacement from rest first levels off
            top = max(m.held for _, m in active[:last_up + 1])
            apex = next(m for _, m in active if m.held >= 0.9 * top)
            apex_frame, apex_time, height = apex.frame, apex.timestamp, max(top, peak.value)
        else:  # the smoothed peak can shift on an asymmetric rise/fall: refine on the raw signal nearby
            reach = self.options.smoothing_ms / 2000 + 1e-6
            apex = max((m for _, m in self._recent if abs(m.timestamp - peak.timestamp) <= reach), key=lambda m: m.raw)
            apex_frame, apex_time, height = apex.frame, apex.timestamp, peak.value
        scale = max(peak.threshold - peak.baseline, 1e-9)
        return SpottedInterval(onset.frame, apex_frame, offset.frame, onset.timestamp, apex_time,
                               offset.timestamp, height, (height - peak.baseline) / scale, open_ended)
