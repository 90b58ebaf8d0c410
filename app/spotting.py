"""Streaming micro-expression spotting on aligned face crops.

Per frame t, the spotter measures how far each facial region of interest has moved relative to BOTH
the frame k before and the frame k after (k = half window, in milliseconds): an expression displaces
the face at its apex with respect to neutral frames on either side, whereas a head turn or a lighting
step differs from only one side. Taking the smaller of the two motions keeps the first and suppresses
the second (the "feature difference" idea of the MEGC spotting literature, measured with optical
flow). Two half windows run side by side: a short one for micro-expressions and a long one that also
sees through the plateau of a macro-expression, so a long expression is one event, not several.
Each flow is computed between crops resampled through one alignment, the head's rigid motion is
subtracted, and while the eye aspect ratio says the eyes blink the lids are muted, and the brows too
unless they move more than the lids.
The signal is the largest regional motion, smoothed; events are peaks over an adaptive threshold
(running median + sensitivity × robust spread), bounded by where the signal falls back. Results come
out with a bounded delay of about the long half window plus the smoothing window.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np

from app.align import AlignedFace, reregister
from app.flow import compute_flow, head_motion, rigid_motion_at
from app.regions import SPOTTING_REGIONS

MICRO_MAX_MS = 500.0
_LID_REGIONS = [i for i, r in enumerate(SPOTTING_REGIONS) if r.blink == "lid"]
_BROW_REGIONS = [i for i, r in enumerate(SPOTTING_REGIONS) if r.blink == "brow"]


@dataclass(frozen=True)
class SpottingOptions:
    half_windows_ms: tuple[float, ...] = (500.0, 1600.0)  # micro and macro scales: frames compared
    smoothing_ms: float = 50.0  # moving-average window of the signal
    sensitivity: float = 4.0  # threshold = baseline + sensitivity × robust sigma ...
    min_amplitude_px: float = 0.2  # ... but at least this far above baseline (pixels on the crop)
    history_s: float = 10.0  # window for the baseline and spread
    boundary: float = 0.3  # onset/offset where the signal is back below this fraction of the peak
    max_event_ms: float = 4000.0
    refractory_ms: float = 200.0  # an event ends after the signal stayed this long below the fall-back level
    blink_ear_ratio: float = 0.85  # eyes count as closing below this fraction of the usual EAR
    blink_margin_ms: float = 60.0  # mute the eyes this long around a blink
    flow_method: str = "dis_fast"

    def frames(self, ms: float, fps: float) -> int:
        return max(1, int(round(ms * fps / 1000.0)))


@dataclass(frozen=True)
class SpotSample:
    """The spotting signal at one frame (known ``delay`` frames after that frame arrived)."""

    frame: int
    timestamp: float
    value: float  # smoothed regional motion, pixels on the crop
    threshold: float
    baseline: float


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

    @property
    def duration_ms(self) -> float:
        return (self.offset_time - self.onset_time) * 1000.0

    @property
    def kind(self) -> str:
        return "micro" if self.duration_ms <= MICRO_MAX_MS else "macro"


@dataclass
class _Slot:
    frame: int
    timestamp: float
    face: AlignedFace
    blink: bool


class Spotter:
    """Feed one aligned face per frame with ``push``; collect samples and finished intervals.

    Windows are in seconds on the frames' own timestamps, so frames dropped in live use (or a variable
    frame rate) do not stretch them; ``fps`` only sizes buffers and the smoothing window.
    """

    def __init__(self, fps: float, options: SpottingOptions | None = None):
        self.options = o = options or SpottingOptions()
        self.windows_s = sorted({ms / 1000.0 for ms in o.half_windows_ms})
        self.ks = [o.frames(w * 1000, fps) for w in self.windows_s]  # the same windows in nominal frames
        self.k = self.ks[-1]
        self.margin_s = max(o.blink_margin_ms, 0.0) / 1000.0
        self.tolerance_s = 0.5 / fps  # half a frame: how far a reference frame may sit from its ideal time
        self.smooth = o.frames(o.smoothing_ms, fps) | 1  # odd, centred
        self.blink_margin = o.frames(o.blink_margin_ms, fps) if o.blink_margin_ms > 0 else 0
        self.history = o.frames(o.history_s * 1000, fps)
        self.max_event = o.frames(o.max_event_ms, fps)
        self.refractory = o.frames(o.refractory_ms, fps)
        self.reset()

    @property
    def delay_frames(self) -> int:
        """How many frames (at the nominal fps) after a frame arrives its signal sample is known."""
        return self.k + self.smooth // 2 + self.blink_margin

    @property
    def event_delay_frames(self) -> int:
        """How many frames after its offset an event is reported, at most (its onset is at most
        ``max_event`` frames before its first crossing, which is at most ``max_event`` before the offset)."""
        return self.delay_frames + self.refractory + 1

    def reset(self) -> None:
        """Forget everything that depends on continuity (face lost, seek)."""
        self._slots: deque[_Slot] = deque()
        self._next = 0  # index in _slots of the next frame to measure
        self._raw: deque[tuple[int, float, float]] = deque(maxlen=self.smooth)
        self._samples: deque[SpotSample] = deque(maxlen=self.history)
        self._history: deque[float] = deque(maxlen=self.history)  # values, events replaced by baseline
        self._raw_by_frame: dict[int, tuple[float, float]] = {}  # frame → (raw motion, timestamp)
        self._ears: deque[float] = deque(maxlen=self.history)
        self._active: list[SpotSample] | None = None
        self._below_since: float | None = None  # when the signal fell below the fall-back level
        self._last_offset = -1

    def push(self, frame: int, timestamp: float, face: AlignedFace, ear: float) -> tuple[list[SpotSample], list[SpottedInterval]]:
        self._slots.append(_Slot(frame, timestamp, face, self._is_blink(ear)))
        # A frame's motion is known once the frame a long half window (+ blink margin) later is here.
        # Near the start (and the end, in flush) only the scales with frames on both sides are used.
        ready = timestamp - self.windows_s[-1] - self.margin_s + self.tolerance_s
        samples, intervals = [], []
        while self._next < len(self._slots) and self._slots[self._next].timestamp <= ready:
            new_samples, new_intervals = self._advance(self._next)
            samples += new_samples
            intervals += new_intervals
            self._next += 1
        self._forget_old_slots()
        return samples, intervals

    def flush(self) -> tuple[list[SpotSample], list[SpottedInterval]]:
        """End of the source: measure the last frames with the scales that still fit, close any event."""
        samples, intervals = [], []
        for centre in range(self._next, len(self._slots)):
            new_samples, new_intervals = self._advance(centre)
            samples += new_samples
            intervals += new_intervals
        self._next = len(self._slots)
        if self._active:
            intervals.append(self._close(self._active))
            self._active = None
        return samples, intervals

    def _forget_old_slots(self) -> None:
        if self._next >= len(self._slots):
            return
        oldest_needed = self._slots[self._next].timestamp - self.windows_s[-1] - self.margin_s - self.tolerance_s
        while self._slots and self._slots[0].timestamp < oldest_needed:
            self._slots.popleft()
            self._next -= 1

    def _advance(self, centre: int) -> tuple[list[SpotSample], list[SpottedInterval]]:
        """Measure the slot at ``centre``, smooth, and update the event detection."""
        raw = self._raw_motion(centre)
        if raw is None:
            return [], []
        slot = self._slots[centre]
        self._raw.append((slot.frame, slot.timestamp, raw))
        self._raw_by_frame[slot.frame] = (raw, slot.timestamp)
        if len(self._raw) < self.smooth:
            return [], []
        frame_c, time_c, _ = self._raw[self.smooth // 2]
        value = float(np.mean([r for _, _, r in self._raw]))
        sample = self._sample(frame_c, time_c, value)
        # Frames arrive in order, so the oldest entries are first: drop them without scanning the rest.
        while (oldest := next(iter(self._raw_by_frame))) < frame_c - self.history:
            del self._raw_by_frame[oldest]
        return [sample], self._detect(sample)

    def _is_blink(self, ear: float) -> bool:
        usual = float(np.median(self._ears)) if len(self._ears) >= 5 else ear
        self._ears.append(ear)
        return ear < self.options.blink_ear_ratio * usual

    def _raw_motion(self, centre: int) -> float | None:
        """Largest regional motion of the slot at ``centre`` against the frames a half window before
        and after it, over the scales that fit; None when none fits yet (the first half window)."""
        slots = self._slots
        here = slots[centre]
        times = [s.timestamp for s in slots]
        first, last, tol = times[0], times[-1], self.tolerance_s

        def nearest(t: float) -> int:
            i = bisect.bisect_left(times, t)
            return min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))

        def blinking(t: float) -> bool:
            lo, hi = bisect.bisect_left(times, t - self.margin_s - tol), bisect.bisect_right(times, t + self.margin_s + tol)
            return any(s.blink for s in itertools.islice(slots, lo, hi))

        boxes = np.array([r.box(here.face.landmarks, here.face.size) for r in SPOTTING_REGIONS])
        best = None
        for w in self.windows_s:
            t_before, t_after = here.timestamp - w, here.timestamp + w
            if t_before - self.margin_s < first - tol or t_after + self.margin_s > last + tol:
                continue
            eyes_muted = blinking(t_before) or blinking(here.timestamp) or blinking(t_after)
            before, after = (
                self._region_motion(
                    compute_flow(reregister(slots[j].face, here.face), here.face.image, self.options.flow_method),
                    boxes, eyes_muted)
                for j in (nearest(t_before), nearest(t_after)))
            value = float(np.max(np.minimum(before, after)))
            best = value if best is None else max(best, value)
        return best

    @staticmethod
    def _region_motion(flow: np.ndarray, boxes: np.ndarray, eyes_muted: bool) -> np.ndarray:
        """Length of each region's mean flow vector, the head's rigid motion taken out.

        The mean vector, not the mean length: coherent motion adds up, noise cancels out. The rigid
        motion is affine, so its mean over a box is its value at the box centre.
        """
        means = np.array([flow[y0:y1, x0:x1].reshape(-1, 2).mean(axis=0) for x0, y0, x1, y1 in boxes])
        centres = np.column_stack([(boxes[:, 0] + boxes[:, 2] - 1) / 2, (boxes[:, 1] + boxes[:, 3] - 1) / 2])
        rigid = rigid_motion_at(head_motion(flow, step=8), centres, flow.shape[:2])
        values = np.linalg.norm(means - rigid, axis=1)
        if eyes_muted:
            lids = values[_LID_REGIONS].max()
            values[_LID_REGIONS] = 0.0
            brows = values[_BROW_REGIONS]
            values[_BROW_REGIONS] = np.where(brows > lids, brows, 0.0)
        return values

    def _sample(self, frame: int, timestamp: float, value: float) -> SpotSample:
        """Threshold from the recent past: its median, and a spread measured below the median only.

        Expressions push the signal up, never down, so the lower half is the noise alone; and a value
        above its threshold is remembered as the baseline of its time, so a history full of events (a
        macro-expression early on, a lively speaker) cannot ratchet the threshold up, while a change in
        the noise level within the threshold is still followed.
        """
        o = self.options
        past = np.array([*self._history, value])
        baseline = float(np.median(past))
        below = baseline - past[past < baseline]
        spread = 1.4826 * float(np.median(below)) if below.size else 0.0  # MAD → σ for Gaussian noise
        threshold = baseline + max(o.sensitivity * spread, o.min_amplitude_px)
        sample = SpotSample(frame, timestamp, value, threshold, baseline)
        self._samples.append(sample)
        self._history.append(value if value <= threshold else baseline)
        return sample

    def _detect(self, sample: SpotSample) -> list[SpottedInterval]:
        """Start at a threshold crossing; end once the signal has stayed below the fall-back level for
        the refractory time, so a dip inside one expression does not cut it in two."""
        o = self.options
        if self._active is None:
            if sample.value > sample.threshold:
                self._active, self._below_since = [sample], None
            return []
        self._active.append(sample)
        _, low = self._peak_and_fall_back(self._active)
        if sample.value >= low:
            self._below_since = None
        elif self._below_since is None:
            self._below_since = sample.timestamp
        quiet_ms = 0.0 if self._below_since is None else (sample.timestamp - self._below_since) * 1000
        length_ms = (sample.timestamp - self._active[0].timestamp) * 1000
        if quiet_ms < o.refractory_ms and length_ms < o.max_event_ms:
            return []
        interval = self._close(self._active)
        self._active = None
        return [interval]

    def _peak_and_fall_back(self, active: list[SpotSample]) -> tuple[SpotSample, float]:
        """The event's highest sample, and the level below which the signal counts as fallen back."""
        peak = max(active, key=lambda s: s.value)
        return peak, peak.baseline + self.options.boundary * (peak.value - peak.baseline)

    def _close(self, active: list[SpotSample]) -> SpottedInterval:
        peak, low = self._peak_and_fall_back(active)
        last_high = max(i for i, s in enumerate(active) if s.value >= low)
        offset = active[min(last_high + 1, len(active) - 1)]
        # Onset: back from the first crossing to where the signal was last below the fall-back level,
        # never into the previous event.
        samples = [s for s in self._samples if s.frame > self._last_offset]
        start = next(i for i, s in enumerate(samples) if s.frame == active[0].frame)
        while (start > 0 and samples[start - 1].value >= low
               and (active[0].timestamp - samples[start - 1].timestamp) * 1000 < self.options.max_event_ms):
            start -= 1
        onset = samples[max(start - 1, 0)]
        self._last_offset = offset.frame
        # The smoothed peak can shift on an asymmetric rise/fall: refine on the raw signal nearby.
        half = self.smooth // 2
        candidates = [f for f in range(peak.frame - half, peak.frame + half + 1) if f in self._raw_by_frame]
        apex_frame = max(candidates, key=lambda f: self._raw_by_frame[f][0]) if candidates else peak.frame
        apex_time = self._raw_by_frame[apex_frame][1] if candidates else peak.timestamp
        scale = max(peak.threshold - peak.baseline, 1e-9)
        return SpottedInterval(onset.frame, apex_frame, offset.frame, onset.timestamp, apex_time,
                               offset.timestamp, peak.value, (peak.value - peak.baseline) / scale)
