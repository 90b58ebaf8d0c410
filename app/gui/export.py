"""Export of what the window holds, written by the same ``ResultWriter`` as ``analyze`` (same files, same fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.events import ResultWriter
from app.gui.records import AnalysisStore


def export_store(store: AnalysisStore, out_dir: str | Path, header: dict[str, Any], classes: tuple[str, ...]) -> Path:
    """Write events.json, events.csv and frames.csv (frame rows only for recorded videos) into ``out_dir``."""
    writer = ResultWriter(out_dir, header, classes)
    try:
        for row in store.frame_rows():
            writer.add_frame(row, keep_pending=0)
        for view in store.events:
            writer.add_event(view.event)
    finally:
        p = store.progress
        writer.close({"frames": p.processed, "events": len(store.events), "dropped": p.dropped,
                      "complete": p.done, "exported_from": "gui"})
    return Path(out_dir)
