"""``analyze --library DIR [--label TEXT]``: an analysis of a recording saved as a library session."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from app.classifier import Classifier
from app.pipeline import PipelineOptions
from app.sessions.library import Library
from app.sessions.recorder import Recorder
from app.sources import SourceInfo


def pipeline_settings(options: PipelineOptions) -> dict:
    """What a session stores as its settings: everything that changes what the pipeline finds."""
    return asdict(options)


def record_analysis(library: str | Path | None, label: str | None, source: SourceInfo, options: PipelineOptions,
                    classifier: Classifier | None, pictures: bool = True) -> Recorder:
    """Start a session for one analysis (labelled with the file name by default); feed and finish it,
    or use it as a context manager (an exception marks the session interrupted). ``pictures=False``:
    no face pictures are kept (de-identified)."""
    with Library(library) as opened:
        return opened.start_session(label if label is not None else Path(source.name).name, source,
                                    pipeline_settings(options), classifier, pictures)
