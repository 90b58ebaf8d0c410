"""Questions a reviewer asks of a loaded session: how many of each label, when, and between two markers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from app.events import Event
from app.sessions.models import Marker, Session

UNLABELLED = "unlabelled"  # events spotted without a model


def label_counts(events: list[Event], classes: tuple[str, ...] = ()) -> dict[str, int]:
    """Events per label, every class of the model listed (zero included), in the model's order."""
    counts = Counter(e.label or UNLABELLED for e in events)
    order = list(classes) + sorted(k for k in counts if k not in classes)
    return {label: counts.get(label, 0) for label in order}


@dataclass(frozen=True)
class EventsOverTime:
    edges: np.ndarray  # (n + 1,) bin edges, seconds on the source clock
    counts: dict[str, np.ndarray]  # label → (n,) events whose apex falls in each bin


def events_over_time(session: Session, bin_s: float = 60.0) -> EventsOverTime:
    """Apex times binned per label, from the session's first to its last second."""
    events = [s.event for s in session.events]
    stamps = session.signal.timestamp
    end = max([float(stamps.max()) if len(stamps) else 0.0] + [e.apex_time for e in events])
    start = min([float(stamps.min()) if len(stamps) else 0.0] + [e.apex_time for e in events])
    n = max(1, int(np.ceil((end - start) / bin_s)))
    edges = start + bin_s * np.arange(n + 1)
    counts = {label: np.histogram([e.apex_time for e in events if (e.label or UNLABELLED) == label], edges)[0]
              for label in label_counts(events, session.info.classes)}
    return EventsOverTime(edges, counts)


@dataclass(frozen=True)
class Span:
    """The events whose apex lies in [start, end), e.g. between "question 3 asked" and the next marker."""

    start: float
    end: float
    events: list[Event]
    counts: dict[str, int]
    micro: int  # micro-expressions (events reported as other motion not counted)
    macro: int

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def per_minute(self) -> float:
        return 60.0 * len(self.events) / self.seconds if self.seconds > 0 else 0.0


def between(session: Session, first: Marker | float, second: Marker | float | None = None) -> Span:
    """Summary of the events between two markers (or times); ``second`` None: to the session's end."""
    start = first.t if isinstance(first, Marker) else float(first)
    if second is None:
        stamps = session.signal.timestamp
        end = max([float(stamps.max()) if len(stamps) else start] + [s.event.apex_time for s in session.events])
        end = np.nextafter(end, np.inf)  # include an event at the very last instant
    else:
        end = second.t if isinstance(second, Marker) else float(second)
    start, end = min(start, end), max(start, end)
    events = [s.event for s in session.events if start <= s.event.apex_time < end]
    return Span(start, float(end), events, label_counts(events, session.info.classes),
                sum(e.expression and e.kind == "micro" for e in events),
                sum(e.expression and e.kind == "macro" for e in events))


def spans_between_markers(session: Session) -> list[tuple[Marker, Span]]:
    """For each user marker, the events from it to the next user marker (or the end)."""
    markers = [m for m in session.markers if m.kind == "user"]
    return [(m, between(session, m, markers[i + 1] if i + 1 < len(markers) else None)) for i, m in enumerate(markers)]
