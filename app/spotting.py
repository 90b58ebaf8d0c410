"""Streaming micro-expression spotting on aligned face crops.

Per frame t, the spotter measures how far each facial region of interest has moved relative to BOTH
the frame k before and the frame k after (k = half window, in milliseconds): an expression displaces
the face at its apex with respect to neutral frames on either side, whereas a head turn or a lighting
step differs from only one side. Taking the smaller of the two motions keeps the first and suppresses
the second (the "feature difference" idea of the MEGC spotting literature, measured with optical
flow). Two half windows run side by side: a short one for micro-expressions and a long one that also
sees through the plateau of a macro-expression, so a long expression is one event, not several.
Each flow is computed between crops resampled through one alignment, the head's rigid motion is
subtracted, and regions around the eyes are muted while the eye aspect ratio says the eyes blink.
The signal is the largest regional motion, smoothed; events are peaks over an adaptive threshold
(running median + sensitivity × robust spread), bounded by where the signal falls back. Results come
out with a bounded delay of about the long half window plus the smoothing window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from app.align import AlignedFace, reregister
from app.flow import compute_flow, remove_head_motion
from app.regions import SPOTTING_REGIONS

MICRO_MAX_MS = 500.0


@dataclass(frozen=True)
class SpottingOptions:
    half_windows_ms: tuple[float, ...] = (500.0, 1600.0)  # micro and macro scales: frames compared
    smoothing_ms: float = 50.0  # moving-average window of the signal
    sensitivity: float = 5.0  # threshold = baseline + sensitivity × robust sigma ...
    min_amplitude_px: float = 0.2  # ... but at least this far above baseline (pixels on the crop)
    history_s: float = 10.0  # window for the baseline and spread
    boundary: float = 0.3  # onset/offset where the signal is back below this fraction of the peak
    max_event_ms: float = 4000.0
    blink_ear_ratio: float = 0.75  # eyes count as closing below this fraction of the usual EAR
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
    """Feed one aligned face per frame with ``push``; collect samples and finished intervals."""

    def __init__(self, fps: float, options: SpottingOptions | None = None):
        self.options = o = options or SpottingOptions()
        self.fps = fps
        self.ks = sorted({o.frames(ms, fps) for ms in o.half_windows_ms})
        self.k = self.ks[-1]
        self.smooth = o.frames(o.smoothing_ms, fps) | 1  # odd, centred
        self.blink_margin = o.frames(o.blink_margin_ms, fps) if o.blink_margin_ms > 0 else 0
        self.history = o.frames(o.history_s * 1000, fps)
        self.max_event = o.frames(o.max_event_ms, fps)
        self.reset()

    @property
    def delay_frames(self) -> int:
        """How many frames after a frame arrives its signal sample is known."""
        return self.k + self.smooth // 2 + self.blink_margin

    def reset(self) -> None:
        """Forget everything that depends on continuity (face lost, seek)."""
        self._slots: deque[_Slot] = deque(maxlen=2 * self.k + 1 + 2 * self.blink_margin)
        self._raw: deque[tuple[int, float, float]] = deque(maxlen=self.smooth)
        self._samples: deque[SpotSample] = deque(maxlen=self.history)
        self._raw_by_frame: dict[int, tuple[float, float]] = {}  # frame → (raw motion, timestamp)
        self._ears: deque[float] = deque(maxlen=self.history)
        self._active: list[SpotSample] | None = None

    def push(self, frame: int, timestamp: float, face: AlignedFace, ear: float) -> tuple[list[SpotSample], list[SpottedInterval]]:
        blink = self._is_blink(ear)
        self._slots.append(_Slot(frame, timestamp, face, blink))
        # The frame whose motion is now known: k_max (+ blink margin) frames ago. Near the start (and
        # the end, in flush) only the scales with enough frames on both sides are used.
        centre = len(self._slots) - 1 - self.k - self.blink_margin
        return self._advance(centre)

    def flush(self) -> tuple[list[SpotSample], list[SpottedInterval]]:
        """End of the source: measure the last frames with the scales that still fit, close any event."""
        samples, intervals = [], []
        last = len(self._slots) - 1 - self.ks[0] - self.blink_margin
        for centre in range(max(0, len(self._slots) - self.k - self.blink_margin), last + 1):
            new_samples, new_intervals = self._advance(centre)
            samples += new_samples
            intervals += new_intervals
        if self._active:
            intervals.append(self._close(self._active))
            self._active = None
        return samples, intervals

    def _advance(self, centre: int) -> tuple[list[SpotSample], list[SpottedInterval]]:
        """Measure the slot at ``centre``, smooth, and update the event detection."""
        if centre - self.ks[0] - self.blink_margin < 0:
            return [], []
        raw = self._raw_motion(centre)
        slot = self._slots[centre]
        self._raw.append((slot.frame, slot.timestamp, raw))
        self._raw_by_frame[slot.frame] = (raw, slot.timestamp)
        if len(self._raw) < self.smooth:
            return [], []
        frame_c, time_c, _ = self._raw[self.smooth // 2]
        value = float(np.mean([r for _, _, r in self._raw]))
        sample = self._sample(frame_c, time_c, value)
        for old in [f for f in self._raw_by_frame if f < frame_c - self.history]:
            del self._raw_by_frame[old]
        return [sample], self._detect(sample)

    def _is_blink(self, ear: float) -> bool:
        usual = float(np.median(self._ears)) if len(self._ears) >= 5 else ear
        self._ears.append(ear)
        return ear < self.options.blink_ear_ratio * usual

    def _raw_motion(self, centre: int) -> float:
        slots = self._slots
        here = slots[centre]
        m = self.blink_margin
        blinks = [s.blink for s in slots]

        def blinking(at: int) -> bool:
            return any(blinks[at - m:at + m + 1])

        best = 0.0
        for k in (k for k in self.ks if centre - k - m >= 0 and centre + k + m < len(slots)):
            eyes_muted = blinking(centre - k) or blinking(centre) or blinking(centre + k)
            before, after = (
                self._region_motion(
                    compute_flow(reregister(other.face, here.face), here.face.image, self.options.flow_method),
                    here.face, eyes_muted)
                for other in (slots[centre - k], slots[centre + k]))
            best = max(best, float(np.max(np.minimum(before, after))))
        return best

    @staticmethod
    def _region_motion(flow: np.ndarray, face: AlignedFace, eyes_muted: bool) -> np.ndarray:
        flow = remove_head_motion(flow)
        values = np.zeros(len(SPOTTING_REGIONS))
        for i, region in enumerate(SPOTTING_REGIONS):
            if region.near_eyes and eyes_muted:
                continue
            x0, y0, x1, y1 = region.box(face.landmarks, face.size)
            # The mean vector, not the mean length: coherent motion adds up, noise cancels out.
            values[i] = np.linalg.norm(flow[y0:y1, x0:x1].reshape(-1, 2).mean(axis=0))
        return values

    def _sample(self, frame: int, timestamp: float, value: float) -> SpotSample:
        o = self.options
        past = np.array([s.value for s in self._samples] + [value])
        baseline = float(np.median(past))
        spread = 1.4826 * float(np.median(np.abs(past - baseline)))
        threshold = baseline + max(o.sensitivity * spread, o.min_amplitude_px)
        sample = SpotSample(frame, timestamp, value, threshold, baseline)
        self._samples.append(sample)
        return sample

    def _detect(self, sample: SpotSample) -> list[SpottedInterval]:
        if self._active is None:
            if sample.value > sample.threshold:
                self._active = [sample]
            return []
        self._active.append(sample)
        peak = max(self._active, key=lambda s: s.value)
        low = peak.baseline + self.options.boundary * (peak.value - peak.baseline)
        if sample.value >= low and len(self._active) < self.max_event:
            return []
        interval = self._close(self._active)
        self._active = None
        return [interval] if interval else []

    def _close(self, active: list[SpotSample]) -> SpottedInterval | None:
        peak = max(active, key=lambda s: s.value)
        low = peak.baseline + self.options.boundary * (peak.value - peak.baseline)
        samples = list(self._samples)
        at = next(i for i, s in enumerate(samples) if s.frame == peak.frame)
        start = at
        while start > 0 and samples[start - 1].value >= low and samples[start - 1].frame == samples[start].frame - 1:
            start -= 1
        end = at
        while end + 1 < len(samples) and samples[end + 1].value >= low:
            end += 1
        onset, offset = samples[max(start - 1, 0)], samples[end]
        # The smoothed peak can shift on an asymmetric rise/fall: refine on the raw signal nearby.
        half = self.smooth // 2
        candidates = [f for f in range(peak.frame - half, peak.frame + half + 1) if f in self._raw_by_frame]
        apex_frame = max(candidates, key=lambda f: self._raw_by_frame[f][0]) if candidates else peak.frame
        apex_time = self._raw_by_frame[apex_frame][1] if candidates else peak.timestamp
        scale = max(peak.threshold - peak.baseline, 1e-9)
        return SpottedInterval(onset.frame, apex_frame, offset.frame, onset.timestamp, apex_time,
                               offset.timestamp, peak.value, (peak.value - peak.baseline) / scale)
