"""Strict JSON for every file and database field we write: NaN and infinities become ``null``.

``json.dumps`` writes ``NaN``/``Infinity`` by default, which no strict JSON reader accepts; here a
non-finite number is recorded as unknown (``null``) and ``allow_nan=False`` guards the rest.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples, numpy) replaced by None."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(finite(value), allow_nan=False, **kwargs)
