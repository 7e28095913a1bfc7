"""What followed each event, one figure per event: forward returns, false break, excursions.

Only the bars after an event's bar are read (its own close is the reference price), and
an event without enough of them gets NaN for that figure, never a figure from fewer bars:

- forward return at horizon h, in %: `(close[i+h] / close[i] - 1) * 100`, negated for a
  down event, so a positive return is a move in the event's direction; NaN without h bars
  after it;
- false break (events at a level only): 1 when a close among the `within` bars after the
  event is back through the level (below it after an up event, above it after a down
  event), 0 when none is; NaN without `within` bars after it;
- excursions over the `span` bars after the event (the longest horizon), in % of its
  close, signed in its direction: favourable (MFE) from the highest high of an up event
  (the lowest low of a down event), adverse (MAE) from the other extreme; NaN without
  `span` bars after it.

Pure numpy over the whole series at once (the baseline measures every bar).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.data.series import BarSeries


@dataclass(frozen=True)
class Outcomes:
    """One row per event; NaN where the bars after it ran out."""

    returns: dict[int, np.ndarray]  # horizon (bars) -> % returns in the event's direction
    false_break: np.ndarray | None  # 1.0 false, 0.0 held, NaN unknown; None: no levels
    mfe: np.ndarray
    mae: np.ndarray
    span: int  # bars the excursions are taken over


def measure(
    bars: BarSeries,
    index: Sequence[int] | np.ndarray,
    up: Sequence[bool] | np.ndarray,
    horizons: Sequence[int],
    levels: Sequence[float] | np.ndarray | None = None,
    within: int = 0,
) -> Outcomes:
    """The outcomes of events at bars `index`, up (True) or down; `levels` (one per event)
    and `within` for the false-break test."""
    idx = np.asarray(index, dtype=np.int64)
    sign = np.where(np.asarray(up, dtype=bool), 1.0, -1.0)
    close = bars.close.astype(np.float64)
    n = len(close)
    returns: dict[int, np.ndarray] = {}
    for h in horizons:
        ok = idx + h < n
        r = np.full(len(idx), np.nan)
        r[ok] = (close[idx[ok] + h] / close[idx[ok]] - 1.0) * 100.0 * sign[ok]
        returns[h] = r
    span = max(horizons)
    hi_max = _window(bars.high, span, np.max)
    lo_min = _window(bars.low, span, np.min)
    mfe, mae = np.full(len(idx), np.nan), np.full(len(idx), np.nan)
    ok = idx + span < n
    i, s, c = idx[ok], sign[ok], close[idx[ok]]
    fav = np.where(s > 0, hi_max[i], lo_min[i])
    adv = np.where(s > 0, lo_min[i], hi_max[i])
    mfe[ok] = (fav / c - 1.0) * 100.0 * s
    mae[ok] = (adv / c - 1.0) * 100.0 * s
    false_break = None
    if levels is not None:
        false_break = _false_breaks(close, idx, sign, np.asarray(levels, dtype=float), within)
    return Outcomes(returns, false_break, mfe, mae, span)


def _window(values: np.ndarray, span: int, fn: Callable[..., Any]) -> np.ndarray:
    """Row i: `fn` over values[i+1 : i+1+span] (the bars after bar i); NaN where fewer."""
    out = np.full(len(values), np.nan)
    if len(values) > span:
        windows = sliding_window_view(values[1:].astype(np.float64), span)
        out[: len(windows)] = fn(windows, axis=1)
    return out


def _false_breaks(
    close: np.ndarray, idx: np.ndarray, sign: np.ndarray, levels: np.ndarray, within: int
) -> np.ndarray:
    out = np.full(len(idx), np.nan)
    for k, (i, s, lv) in enumerate(zip(idx.tolist(), sign.tolist(), levels.tolist(), strict=True)):
        if i + within >= len(close):
            continue  # not all `within` bars are known yet: neither false nor held
        after = close[i + 1 : i + 1 + within]
        back = after < lv if s > 0 else after > lv
        out[k] = 1.0 if bool(back.any()) else 0.0
    return out
