"""Streaming micro-expression spotting on aligned face crops, in two parts.

``app.spotting_signal`` turns aligned faces into a motion signal (transient motion against frames on
both sides, displacement from rest, a pose/lighting flag); ``app.spotting_events`` turns that signal into
events (adaptive threshold, fall-back boundaries, held and open-ended expressions). ``Spotter`` chains
them for the pipeline: push a frame, get signal samples and finished events; ``flush`` at the end of the
source or of the face track. Results come out with a bounded delay of about the long half window.
"""

from __future__ import annotations

from app.align import AlignedFace
from app.spotting_events import EventDetector, SpotSample, SpottedInterval
from app.spotting_options import SpottingOptions
from app.spotting_signal import MotionSignal

__all__ = ["SpotSample", "SpottedInterval", "Spotter", "SpottingOptions"]


class Spotter:
    """Feed one aligned face per frame with ``push``; collect samples and finished intervals."""

    def __init__(self, fps: float, options: SpottingOptions | None = None):
        self.options = o = options or SpottingOptions()
        self.signal = MotionSignal(fps, o)
        self.detector = EventDetector(fps, o)
        self.max_event = self.detector.max_event  # frames, at the nominal fps
        self.refractory = o.frames(o.refractory_ms, fps)

    @property
    def delay_frames(self) -> int:
        """How many frames (at the nominal fps) after a frame arrives its signal sample is known."""
        return self.signal.delay_frames

    @property
    def event_delay_frames(self) -> int:
        """How many frames after its offset an event is reported, at most."""
        return self.delay_frames + self.refractory + 1

    def reset(self) -> None:
        """Forget everything that depends on continuity (seek)."""
        self.signal.reset()
        self.detector.reset()

    def push(self, frame: int, timestamp: float, face: AlignedFace,
             ear: float) -> tuple[list[SpotSample], list[SpottedInterval]]:
        return self._detect(self.signal.push(frame, timestamp, face, ear))

    def flush(self) -> tuple[list[SpotSample], list[SpottedInterval]]:
        """End of the source or of the face track: the last frames' signal, and every event in progress."""
        samples, intervals = self._detect(self.signal.flush())
        return samples, intervals + self.detector.finish()

    def _detect(self, motion) -> tuple[list[SpotSample], list[SpottedInterval]]:
        samples, intervals = [], []
        for m in motion:
            sample, found = self.detector.push(m)
            samples.append(sample)
            intervals += found
        return samples, intervals
