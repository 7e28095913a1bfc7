"""The events of one symbol's bars at each of its levels, by tier, without look-ahead.

Tiers (`TIERS`), each with the direction its outcome is measured in:

- `crossed_up` / `crossed_down`, an intraday cross: a bar through the level from the side
  of the close before it (bot/study/crosses.py; timed on minute bars where the store has
  them, else read off the daily bar's high or low);
- `breakout` / `breakdown`, a confirmed break: a signal of the symbol's own strategy
  (`build_strategy(settings.strategy)`), run through the strategy contract only. The
  strategy is fed the bars in order, so its signal at bar t was decided on bars up to t.
  Its direction is `direction_of(sig)` (the one rule, bot/watch/pipeline.py); its `tag`
  names the level through the strategy's own status rows, as `bot watch` maps them. A
  signal whose tag names none of the symbol's levels (the moving 52-week peak, a
  moving-average cross) is no level event;
- `failed_breakout` / `failed_breakdown`: a confirmed break followed, within
  `false_within` bars, by a close back through the level (below it after a breakout,
  above it after a breakdown). The event is the bar of that close, so it too is decided
  on bars up to its own; its direction is the way the price went back (a failed
  breakout is a down event).

An event's inputs are the bars up to its bar (`index`); its outcome (bot/study/outcomes.py)
uses the bars after it only. Imports no broker and names no strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.alerts.tiers import Direction
from bot.data.series import BarSeries
from bot.engine.scan import scan
from bot.settings import Settings
from bot.strategy import Strategy, StrategyStatus
from bot.study.crosses import crosses
from bot.watch.pipeline import direction_of
from strategies import build_strategy

Tier = Literal[
    "crossed_up", "crossed_down", "breakout", "breakdown", "failed_breakout", "failed_breakdown"
]
TIERS: tuple[Tier, ...] = (
    "crossed_up",
    "crossed_down",
    "breakout",
    "breakdown",
    "failed_breakout",
    "failed_breakdown",
)
LABELS: dict[Tier, str] = {
    "crossed_up": "intraday cross up",
    "crossed_down": "intraday cross down",
    "breakout": "confirmed breakout",
    "breakdown": "confirmed breakdown",
    "failed_breakout": "failed breakout",
    "failed_breakdown": "failed breakdown",
}
DIRECTIONS: dict[Tier, Direction] = {
    "crossed_up": "up",
    "crossed_down": "down",
    "breakout": "up",
    "breakdown": "down",
    "failed_breakout": "down",  # the price went back below the level
    "failed_breakdown": "up",
}
# Tiers that break through a level, and so have a false-break rate.
BREAKS: frozenset[Tier] = frozenset({"crossed_up", "crossed_down", "breakout", "breakdown"})
# A status row's value is rounded to 4 decimals (strategies/level_state.py): a level
# price within this of it is the level that row names.
_SAME_LEVEL = 5.1e-5


@dataclass(frozen=True, slots=True)
class Event:
    """One event at one level: decided on bars [0, index], measured on bars after it."""

    tier: Tier
    level: float
    index: int  # the event's bar in the series
    ts: int  # that bar's time (UTC ns)
    close: float  # that bar's close: forward returns are measured from it
    minute_ts: int | None = None  # a cross timed on minute bars: the first minute through
    origin: int | None = None  # a failed break: the bar of the break it undid

    @property
    def direction(self) -> Direction:
        return DIRECTIONS[self.tier]


def find_events(
    settings: Settings,
    bars: BarSeries,
    start: int = 0,
    minutes: BarSeries | None = None,
) -> list[Event]:
    """Every event at the symbol's levels in bars [start, len(bars)), in time order (the
    bars before `start` warm the strategy up). `minutes`: the symbol's minute bars, to
    time the crosses on the days they cover."""
    levels = sorted({lv.price for lv in settings.levels_of(settings.symbol)})
    found = confirmed_events(build_strategy(settings.strategy), bars, levels)
    found += failed_events(found, bars, settings.study.false_within)
    for level in levels:
        for c in crosses(bars, level, minutes):
            tier: Tier = "crossed_up" if c.direction == "up" else "crossed_down"
            i = c.bar
            found.append(Event(tier, level, i, int(bars.ts[i]), float(bars.close[i]), c.minute_ts))
    kept = [e for e in found if e.index >= start]
    return sorted(kept, key=lambda e: (e.index, e.level, TIERS.index(e.tier)))


def confirmed_events(strategy: Strategy, bars: BarSeries, levels: Sequence[float]) -> list[Event]:
    """The strategy's signals that name one of `levels`, as breakouts and breakdowns.

    `scan` feeds the bars one at a time, in order: the signal of bar t is the one a live
    run would have had at t's close."""
    fresh = strategy.status()  # before any bar: the fixed levels, with their values
    names = level_names(fresh, levels)
    shown = {r.name for r in fresh.rows}
    signals = scan(strategy, bars).signals
    # Rows a strategy shows only once warm; never one it showed from the start without
    # that value (the 52-week peak moves: its value may happen to equal a level's).
    late = level_names(strategy.status(), levels)
    names |= {k: v for k, v in late.items() if k not in shown}
    out: list[Event] = []
    for sig in signals:
        level, way = names.get(sig.tag), direction_of(sig)
        if level is None or way is None:
            continue
        i = int(np.searchsorted(bars.ts, sig.ts))
        tier: Tier = "breakout" if way == "up" else "breakdown"
        out.append(Event(tier, level, i, sig.ts, float(bars.close[i])))
    return out


def level_names(status: StrategyStatus, levels: Sequence[float]) -> dict[str, float]:
    """The strategy's name of each level it shows with a value: tag -> level price."""
    out: dict[str, float] = {}
    for row in status.rows:
        value = row.value
        if value is None or value != value:
            continue
        near = [p for p in levels if abs(p - value) <= _SAME_LEVEL]
        if near:
            out[row.name] = min(near, key=lambda p: abs(p - value))
    return out


def failed_events(breaks: Sequence[Event], bars: BarSeries, within: int) -> list[Event]:
    """Each confirmed break whose level a close went back through within `within` bars:
    a failed break at the first such close (decided on bars up to that close)."""
    close = bars.close
    out: list[Event] = []
    for e in breaks:
        if e.tier not in ("breakout", "breakdown"):
            continue
        stop = min(e.index + within, len(close) - 1)
        for j in range(e.index + 1, stop + 1):
            c = float(close[j])
            if (c < e.level) if e.tier == "breakout" else (c > e.level):
                tier: Tier = "failed_breakout" if e.tier == "breakout" else "failed_breakdown"
                out.append(Event(tier, e.level, j, int(bars.ts[j]), c, origin=e.index))
                break
    return out
