"""What a live run is judged by: frames dropped, frame latency and label delay, as percentiles.

Durations go into fixed histograms (0.1 ms bins up to 10 s), so a session of hours keeps a constant
memory footprint and its percentiles still cover every frame, not a recent window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_BIN_MS = 0.1
_BINS = 100_000  # 10 s; longer durations count in the last bin


class Percentiles:
    """Percentiles of durations in milliseconds; ``add`` may be called from any thread."""

    def __init__(self) -> None:
        self._counts = np.zeros(_BINS, dtype=np.int64)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, ms: float) -> None:
        index = min(max(int(ms / _BIN_MS), 0), _BINS - 1)
        with self._lock:
            self._counts[index] += 1
            self.count += 1

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (upper edge of its bin), None before the first value."""
        with self._lock:
            if not self.count:
                return None
            rank = int(np.searchsorted(np.cumsum(self._counts), q / 100.0 * self.count))
        return round((min(rank, _BINS - 1) + 1) * _BIN_MS, 1)

    def summary(self) -> dict[str, float | None]:
        return {"p50": self.percentile(50), "p95": self.percentile(95)}


@dataclass
class LiveFigures:
    """Frame arrival → its result (``latency``) and spotter decision → label (``label_delay``)."""

    latency: Percentiles
    label_delay: Percentiles

    @classmethod
    def empty(cls) -> "LiveFigures":
        return cls(Percentiles(), Percentiles())

    def summary(self, dropped: int) -> dict:
        """The figures as events.json's ``summary`` carries them."""
        return {"dropped": dropped, "latency_ms": self.latency.summary(),
                "label_delay_ms": self.label_delay.summary()}


def live_line(figures: dict) -> str:
    """The live figures of a summary in one line."""
    lat, lab = figures["latency_ms"], figures["label_delay_ms"]
    ms = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    return (f"live: {figures['dropped']} frames dropped; latency p50 {ms(lat['p50'])} ms, p95 {ms(lat['p95'])} ms; "
            f"label delay p50 {ms(lab['p50'])} ms, p95 {ms(lab['p95'])} ms")
