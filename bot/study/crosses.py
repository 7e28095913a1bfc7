"""Intraday crosses of a level, day by day: the `crossed_up` / `crossed_down` tiers.

The rule is the `crossed` alert's (bot/alerts/tiers.py): a bar's high reaches the level
from a close below it, or its low from a close above it. Where minute bars cover a day
(the store's 1m bars, `bot data fetch SYMBOL --timeframe 1m`), that day is walked minute
by minute from the previous day's close, and the first minute through the level in each
direction times the cross (a day can then cross both ways). Any other day is read off its
daily bar: the high (or low) through the level, the previous close on the other side; its
time within the day is unknown. Unlike the alerts, nothing is latched: every day through
the level counts once per direction, so a price hovering on a level makes several
crosses, close in time (their outcomes overlap).

A cross on day i uses that day's bar (or its minutes up to the cross) and the close before
it: its inputs end with its own day, never a later one. Pure: no I/O.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bot.alerts.tiers import Direction
from bot.data.series import BarSeries


class Cross(NamedTuple):
    direction: Direction
    bar: int  # the bar of the day it happened in
    minute_ts: int | None  # the first minute through the level; None: read off the daily bar


def crosses(bars: BarSeries, level: float, minutes: BarSeries | None = None) -> list[Cross]:
    """Every cross of `level` in `bars` (from the second bar on), in time order.
    `minutes` is used only when `bars` are daily bars."""
    if len(bars) < 2:
        return []
    prev, high, low = bars.close[:-1], bars.high[1:], bars.low[1:]
    up = (prev < level) & (high >= level)
    down = (prev > level) & (low <= level)
    timed = _days(minutes) if minutes is not None and bars.timeframe.daily else {}
    out: list[Cross] = []
    for k in np.flatnonzero(up | down | np.isin(bars.session[1:], list(timed))).tolist():
        i = k + 1
        span = timed.get(int(bars.session[i]))
        if span is None:
            out.append(Cross("up" if up[k] else "down", i, None))
        else:
            assert minutes is not None
            out += _minute_crosses(minutes, span, float(bars.close[i - 1]), level, i)
    return out


def _days(minutes: BarSeries) -> dict[int, tuple[int, int]]:
    """Session day -> the [start, stop) rows of its minute bars."""
    days, starts = np.unique(minutes.session, return_index=True)
    stops = [*starts[1:].tolist(), len(minutes)]
    return {int(d): (int(a), int(b)) for d, a, b in zip(days, starts, stops, strict=True)}


def _minute_crosses(
    minutes: BarSeries, span: tuple[int, int], prev_close: float, level: float, index: int
) -> list[Cross]:
    """The day's first cross up and first cross down on its minutes, in time order."""
    side: Direction | None = "up" if prev_close > level else "down" if prev_close < level else None
    first: dict[Direction, int] = {}
    for k in range(*span):
        if side == "down" and "up" not in first and minutes.high[k] >= level:
            first["up"] = int(minutes.ts[k])
        elif side == "up" and "down" not in first and minutes.low[k] <= level:
            first["down"] = int(minutes.ts[k])
        c = float(minutes.close[k])
        side = "up" if c > level else "down" if c < level else side
    return [Cross(way, index, ts) for way, ts in sorted(first.items(), key=lambda kv: kv[1])]
