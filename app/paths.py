"""Path facts found without writing anything, for refusing an output or library path up front."""

from __future__ import annotations

import os
from pathlib import Path


def existing_ancestor(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists (a dangling link counts: something is there)."""
    existing = path
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    return existing
