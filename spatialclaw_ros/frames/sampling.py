"""Picking frames spread evenly over a sequence."""

from __future__ import annotations

import numpy as np


def evenly_spaced(n: int, k: int) -> list[int]:
    """Up to `k` distinct positions spread evenly over 0..n-1, ascending; the first always, the
    last when k > 1."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int)).tolist()
