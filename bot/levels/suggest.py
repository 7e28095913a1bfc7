"""Levels suggested as of bar t: pivots clustered into prices, each measured and ranked.

Only the window of the last `lookback_bars` bars up to and including t is read (W below);
no bar after t is, so changing those changes nothing (tests/test_levels_suggest.py).

- **Pivots**: the swing highs and lows of W known at t (bot/levels/pivots.py).
- **Clusters**: the pivots sorted by price (ties: by bar); a cluster opens at the lowest
  pivot not yet taken and takes every next pivot priced at most `cluster_pct` % above that
  first price. So any two pivots of a cluster are within `cluster_pct` % of each other
  (no chaining: a slow staircase of pivots is several levels, not one).
- **Price**: the mean of the cluster's pivot prices, rounded to the cent (to 4 decimals
  under $1). Touches are measured against this rounded price: the one the user pastes.
- **Touch**: with p = `touch_pct` / 100, bar j of W is *at* level L when
  `low[j] <= L * (1 + p)` and `high[j] >= L * (1 - p)`: its range meets the band L +- p%
  (a bar that gaps through the level is at it too). A **touch** is a run of consecutive
  bars at the level, counted once: a week spent at a price is one visit, not five.
  The last touch is the last bar at the level.
- **Strength**: the number of pivots plus, for each touch, 0.5 ** (age / 63), the age
  being the bars from the touch's last bar to t: a touch at t counts 1, a quarter (63
  sessions) before 1/2, a year before 1/16. Pivots make a level; recent visits keep it
  alive (a level is an opinion, and goes stale).
- **Kept**: levels with at least `min_touches` touches, ranked by strength (then the
  nearer to the close of t, then the lower price); the first `top` are listed.
- **Round numbers** (optional): every multiple of `round_step` within W's low-high range,
  kind "round", no pivots, measured and kept by the same rules; one within `touch_pct` %
  of a swing level is left out (it would repeat that level's touches).

Imports numpy, the bar series and the settings model; decides no trade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from bot.data.series import BarSeries
from bot.levels.pivots import Pivot, find_pivots
from bot.models import DataError, session_date, session_day
from bot.settings import LevelsConfig

HALF_LIFE_BARS = 63  # a touch's weight halves every quarter (63 sessions)


@dataclass(frozen=True)
class Touches:
    count: int  # runs of consecutive bars at the level
    last: int | None  # index (in the series) of the last bar at the level
    weight: float  # sum over runs of 0.5 ** (age of the run's last bar / HALF_LIFE_BARS)


@dataclass(frozen=True)
class SuggestedLevel:
    price: float
    kind: str  # "swing high", "swing low", "both" or "round"
    pivots: tuple[Pivot, ...]  # indices in the series, not in the window
    touches: Touches
    strength: float


@dataclass(frozen=True)
class Suggestion:
    bars: BarSeries
    t: int  # the as-of bar
    start: int  # first bar of the window
    levels: tuple[SuggestedLevel, ...]  # ranked, at most `top`
    pivots: int  # pivots found in the window
    candidates: int  # levels measured (before min_touches and top)
    kept: int  # levels with enough touches (before top)

    def day(self, i: int) -> date:
        return session_date(int(self.bars.session[i]))

    @property
    def close(self) -> float:
        return float(self.bars.close[self.t])


def level_price(prices: list[float]) -> float:
    mean = sum(prices) / len(prices)
    return round(mean, 2 if mean >= 1 else 4)


def cluster(pivots: list[Pivot], pct: float) -> list[list[Pivot]]:
    """Pivots grouped by price: each group within `pct` % above its lowest pivot."""
    groups: list[list[Pivot]] = []
    for p in sorted(pivots, key=lambda p: (p.price, p.index)):
        if groups and p.price <= groups[-1][0].price * (1 + pct / 100):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def touches(high: np.ndarray, low: np.ndarray, price: float, pct: float, t: int) -> Touches:
    """Touches of `price` in the window `high`, `low` whose last bar is t (the window's
    indices are offset so that its last one is t)."""
    at = (low <= price * (1 + pct / 100)) & (high >= price * (1 - pct / 100))
    if not at.any():
        return Touches(0, None, 0.0)
    nxt = np.append(at[1:], False)
    ends = np.flatnonzero(at & ~nxt)  # the last bar of each run
    ages = (len(at) - 1) - ends
    last = t - int(ages[-1])
    return Touches(len(ends), last, float(np.sum(0.5 ** (ages / HALF_LIFE_BARS))))


def _kind(pivots: list[Pivot]) -> str:
    kinds = {p.kind for p in pivots}
    return "both" if len(kinds) == 2 else f"swing {kinds.pop()}"


def round_prices(lo: float, hi: float, step: float) -> list[float]:
    """The multiples of `step` in [lo, hi], rounded (step 0.1: 12.3, not 12.300000000000001)."""
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [round(m * step, 2 if step >= 0.01 else 6) for m in range(first, last + 1)]


def asof_index(bars: BarSeries, asof: date | None) -> int:
    """The last bar on or before the day `asof` (None: the last bar). Raises DataError when
    `asof` is before the first bar."""
    if len(bars) == 0:
        raise DataError(f"no bars in {bars.source or 'the data'}")
    if asof is None:
        return len(bars) - 1
    t = int(np.searchsorted(bars.session, session_day(asof), side="right")) - 1
    if t < 0:
        first = session_date(int(bars.session[0]))
        raise DataError(
            f"--asof {asof.isoformat()} is before the first bar ({first.isoformat()}) of "
            f"{bars.source or 'the data'}"
        )
    return t


def suggest(bars: BarSeries, t: int, cfg: LevelsConfig) -> Suggestion:
    """The levels as of bar t with the `[levels]` settings."""
    k = cfg.pivot_bars
    start = max(0, t + 1 - cfg.lookback_bars)
    high, low = bars.high[start : t + 1], bars.low[start : t + 1]
    if len(high) < 2 * k + 1:
        raise DataError(
            f"{len(high)} bar(s) up to {session_date(int(bars.session[t])).isoformat()}: a swing "
            f"high or low needs {k} bars on each side (levels.pivot_bars = {k}), so at least "
            f"{2 * k + 1}; choose a later --asof or a smaller pivot_bars"
        )
    found = [
        Pivot(p.index + start, p.price, p.kind) for p in find_pivots(high, low, k, len(high) - 1)
    ]
    measured: list[SuggestedLevel] = []
    for group in cluster(found, cfg.cluster_pct):
        price = level_price([p.price for p in group])
        tc = touches(high, low, price, cfg.touch_pct, t)
        pivots = tuple(sorted(group, key=lambda p: p.index))
        measured.append(SuggestedLevel(price, _kind(group), pivots, tc, len(group) + tc.weight))
    if cfg.round_numbers:
        swing = [lv.price for lv in measured]
        for price in round_prices(float(low.min()), float(high.max()), cfg.round_step):
            if any(abs(price / s - 1) <= cfg.touch_pct / 100 for s in swing):
                continue
            tc = touches(high, low, price, cfg.touch_pct, t)
            measured.append(SuggestedLevel(price, "round", (), tc, tc.weight))
    close = float(bars.close[t])
    kept = [lv for lv in measured if lv.touches.count >= cfg.min_touches]
    kept.sort(key=lambda lv: (-lv.strength, abs(lv.price / close - 1), lv.price))
    return Suggestion(
        bars=bars,
        t=t,
        start=start,
        levels=tuple(kept[: cfg.top]),
        pivots=len(found),
        candidates=len(measured),
        kept=len(kept),
    )


__all__ = ["SuggestedLevel", "Suggestion", "Touches", "asof_index", "cluster", "suggest"]
