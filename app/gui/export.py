"""Export of what the window holds, written by the same sink as ``analyze`` (same files, same fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.gui.records import AnalysisStore
from app.sinks import FolderSink


def export_store(store: AnalysisStore, out_dir: str | Path, header: dict[str, Any], classes: tuple[str, ...]) -> Path:
    """Write events.json, events.csv and frames.csv (frame rows only for recorded videos) into ``out_dir``
    (``header``: app.sinks.run_header). The files are moved into place once all are written."""
    sink = FolderSink(out_dir, header, classes)
    p = store.progress
    try:
        for row in store.frame_rows():
            sink.add_frame(row)
        for view in store.events:
            sink.add_event(view.event)
    except BaseException:
        sink.close({"exported_from": "gui"}, complete=False)
        raise
    sink.close({"frames": p.processed, "events": len(store.events), "dropped": p.dropped,
                "complete": p.done, "exported_from": "gui"})
    return Path(out_dir)
