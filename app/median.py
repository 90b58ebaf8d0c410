"""The median of a small 1-D array, several times a frame: ``np.median``'s result, bit for bit, without its
generic machinery (axis handling, NaN checks), which costs more than the partition on a few hundred values."""

from __future__ import annotations

import numpy as np


def median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D array, bit for bit, without its generic machinery (several calls a frame)."""
    k, odd = divmod(values.size, 2)
    if odd:
        return np.partition(values, k)[k]
    part = np.partition(values, (k - 1, k))
    return (part[k - 1] + part[k]) / 2  # halving is exact: np.median's mean of the two
