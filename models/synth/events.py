"""Expression events: which AUs, when, and the rise/fall profile of their intensity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.synth.aus import BLINK, parse_code
from models.synth.emotions import classify_aus

MICRO_MAX_S = 0.5  # onset→offset of a micro-expression (DESIGN.md 3.2)
MICRO_ONSET_APEX_S = (0.040, 0.260)
MICRO_TOTAL_S = (0.150, 0.500)
MACRO_TOTAL_S = (0.6, 3.0)
BLINK_TOTAL_S = (0.15, 0.35)


@dataclass(frozen=True)
class ExpressionEvent:
    """AU intensities (code → intensity, see ``models.synth.aus``) rising from onset to apex and
    falling back by offset (seconds from the start of the sequence)."""

    aus: dict[str, float]
    onset_s: float
    apex_s: float
    offset_s: float
    hold_s: float = 0.0  # plateau at the apex before the fall (macro-expressions)

    def __post_init__(self):
        object.__setattr__(self, "aus", {str(k).upper(): float(v) for k, v in self.aus.items()})
        for code in self.aus:
            parse_code(code)
        if not (self.onset_s < self.apex_s and self.hold_s >= 0 and self.apex_s + self.hold_s < self.offset_s):
            raise ValueError(f"need onset < apex <= apex + hold < offset, got {self}")

    @property
    def is_blink(self) -> bool:
        return {parse_code(c)[0] for c in self.aus} == {BLINK}

    @property
    def kind(self) -> str:
        return "micro" if self.offset_s - self.onset_s <= MICRO_MAX_S else "macro"

    @property
    def labels(self) -> tuple[str, str | None]:
        """(emotion, class3) by the FACS rules of ``models.synth.emotions``."""
        return classify_aus(self.aus)

    def profile(self, t: np.ndarray) -> np.ndarray:
        """Relative intensity in [0, 1] at times ``t``: raised-cosine rise, optional hold, cosine fall."""
        t = np.asarray(t, dtype=np.float64)
        rise = np.clip((t - self.onset_s) / (self.apex_s - self.onset_s), 0, 1)
        fall_start = self.apex_s + self.hold_s
        fall = np.clip((t - fall_start) / (self.offset_s - fall_start), 0, 1)
        return np.where(t < fall_start, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 + 0.5 * np.cos(np.pi * fall))


def micro_timing(rng: np.random.Generator, onset_s: float) -> tuple[float, float, float]:
    """(onset, apex, offset): onset→apex 40–260 ms, onset→offset 150–500 ms."""
    total = rng.uniform(*MICRO_TOTAL_S)
    rise = rng.uniform(MICRO_ONSET_APEX_S[0], min(MICRO_ONSET_APEX_S[1], total - 0.06))
    return onset_s, onset_s + rise, onset_s + total


def macro_event(rng: np.random.Generator, aus: dict[str, float], onset_s: float) -> ExpressionEvent:
    """A macro-expression of 0.6–3 s with a plateau at the apex."""
    total = rng.uniform(*MACRO_TOTAL_S)
    rise = total * rng.uniform(0.2, 0.35)
    hold = total * rng.uniform(0.1, 0.3)
    return ExpressionEvent(aus, onset_s, onset_s + rise, onset_s + total, hold_s=hold)


def blink_event(rng: np.random.Generator, onset_s: float) -> ExpressionEvent:
    total = rng.uniform(*BLINK_TOTAL_S)
    return ExpressionEvent({str(BLINK): rng.uniform(0.85, 1.0)}, onset_s, onset_s + total * 0.4, onset_s + total)
