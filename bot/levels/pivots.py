"""Swing highs and lows (pivots) of a bar series, as known at a given bar.

The rule, with k = `pivot_bars`:

- a **swing high** at bar i is a high strictly above each of the k highs before it and at
  least each of the k highs after it: the highest high of bars i-k..i+k, and of equal
  highs in that window the first one (so a flat top gives one pivot, not several);
- a **swing low** is the mirror image: a low strictly below the k lows before it and at
  most each of the k lows after it.

A pivot at i needs the k bars after it, so it is **known at bar i+k**, not at i: as of
bar t only pivots with i+k <= t exist (and i >= k: a bar without k bars before it is
never a pivot). That is the look-ahead rule, and `find_pivots` takes the arrays up to t
only, so a bar after t cannot change what it returns.

Imports numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PivotKind = Literal["high", "low"]


@dataclass(frozen=True)
class Pivot:
    """A swing high or low: the bar it was made on and its price (that bar's high or low)."""

    index: int  # position in the arrays given to find_pivots
    price: float
    kind: PivotKind

    def known_at(self, k: int) -> int:
        """The first bar at which this pivot is known: k bars after it."""
        return self.index + k


def _swings(values: np.ndarray, k: int, sign: float) -> np.ndarray:
    """Indices of swing highs of `sign * values` (sign -1 turns lows into highs)."""
    v = sign * np.asarray(values, dtype="float64")
    if len(v) < 2 * k + 1:
        return np.empty(0, dtype="int64")
    win = sliding_window_view(v, 2 * k + 1)  # row j: bars j..j+2k, centre j+k
    centre = win[:, k]
    before = win[:, :k].max(axis=1)
    after = win[:, k + 1 :].max(axis=1)
    # Strictly above the bars before, at least the bars after: of equal highs the first wins.
    return np.flatnonzero((centre > before) & (centre >= after)) + k


def find_pivots(high: np.ndarray, low: np.ndarray, k: int, t: int) -> list[Pivot]:
    """The pivots known as of bar t (0-based), in bar order (a high before a low on the
    same bar). Reads high[:t+1] and low[:t+1] only."""
    if k < 1:
        raise ValueError(f"pivot_bars must be at least 1, not {k}")
    if t < 0:
        return []
    hi = np.asarray(high, dtype="float64")[: t + 1]
    lo = np.asarray(low, dtype="float64")[: t + 1]
    found = [Pivot(int(i), float(hi[i]), "high") for i in _swings(hi, k, 1.0)]
    found += [Pivot(int(i), float(lo[i]), "low") for i in _swings(lo, k, -1.0)]
    return sorted(found, key=lambda p: (p.index, p.kind != "high"))


__all__ = ["Pivot", "PivotKind", "find_pivots"]
