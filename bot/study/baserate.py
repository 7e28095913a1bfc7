"""The base rate beside an alert: how the same tier at the same level went before.

    confirmed breakout, 2 closes: 11 past cases on BABA, 7 held above the level 5 bars
    later, median +2.1% (CI -0.8..+4.0)

`StudyData.build(settings, symbol, bars)` finds the symbol's events once (bot/study/events.py);
`.base_rate(tier, level, at_ts)` (or `.for_signal(sig)`) then counts the past cases of that
tier and level whose whole outcome was known before `at_ts`: the event's bar plus
`hold_bars` bars, all closed before the alert's own bar (a daily bar counts once its
session is over: its session is before the alert's day; an intraday bar once its time
plus its length is not after `at_ts`). So the figure describes the past only, and is the
same whatever the bars after `at_ts` are.

"held": the close `hold_bars` bars after the event is beyond the level in the event's
direction (above it for an up event). The median is the price change over those bars, in %
(not signed by direction: a breakdown that kept falling has a negative median), with its
95% bootstrap interval (bot/study/stats.py, the [study] seed). Below `min_events` past
cases the sentence says "too few events" and gives no figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.data.series import BarSeries
from bot.models import Signal, ns_to_et, session_day
from bot.settings import Settings, StudyConfig
from bot.study.events import DIRECTIONS, LABELS, Event, Tier, find_events, level_names
from bot.study.stats import bootstrap
from bot.watch.pipeline import direction_of
from strategies import build_strategy

_SAME_LEVEL = 1e-6


@dataclass(frozen=True)
class BaseRate:
    symbol: str
    tier: Tier
    level: float
    hold_bars: int
    n: int  # past cases whose outcome was known before the alert
    held: int | None  # ...still beyond the level `hold_bars` bars later (None: too few)
    median: float | None  # median price change over `hold_bars` bars, % (None: too few)
    ci: tuple[float, float] | None  # its 95% bootstrap interval
    min_events: int
    rule: str = ""  # the confirmation rule in a few words ("2 closes"), confirmed tiers

    @property
    def too_few(self) -> bool:
        return self.n < self.min_events

    def sentence(self) -> str:
        what = LABELS[self.tier] + (f", {self.rule}" if self.rule else "")
        cases = f"{self.n} past case{'' if self.n == 1 else 's'}"
        if self.too_few or self.held is None or self.median is None or self.ci is None:
            return f"{what}: too few events on {self.symbol} ({cases}, {self.min_events} needed)"
        side = "above" if DIRECTIONS[self.tier] == "up" else "below"
        lo, hi = self.ci
        return (
            f"{what}: {cases} on {self.symbol}, {self.held} held {side} the level "
            f"{self.hold_bars} bars later, median {self.median:+.1f}% (CI {lo:+.1f}..{hi:+.1f})"
        )


class StudyData:
    """A symbol's events, found once, for the base rates of its alerts."""

    def __init__(
        self,
        symbol: str,
        bars: BarSeries,
        events: Sequence[Event],
        cfg: StudyConfig,
        names: dict[str, float],
        rule: str = "",
    ) -> None:
        self.symbol, self.bars, self.events, self.cfg = symbol, bars, list(events), cfg
        self.names = names  # a signal's tag -> its level
        self.rule = rule

    @classmethod
    def build(
        cls, settings: Settings, symbol: str, bars: BarSeries, minutes: BarSeries | None = None
    ) -> StudyData:
        mine = settings.for_symbol(symbol)
        levels = [lv.price for lv in mine.levels_of(mine.symbol)]
        names = level_names(build_strategy(mine.strategy).status(), levels)
        n = getattr(mine.strategy, "confirm_closes", None)  # a rule that counts closes
        rule = f"{n} close{'' if n == 1 else 's'}" if isinstance(n, int) else ""
        events = find_events(mine, bars, 0, minutes)
        return cls(mine.symbol, bars, events, mine.study, names, rule)

    def base_rate(self, tier: Tier, level: float, at_ts: int) -> BaseRate | None:
        """The past cases of `tier` at `level` before `at_ts` (UTC ns); None for a level
        the study does not know."""
        if not any(abs(p - level) <= _SAME_LEVEL for p in self.names.values()):
            return None
        mine = [e for e in self.events if e.tier == tier and abs(e.level - level) <= _SAME_LEVEL]
        rule = self.rule if tier in ("breakout", "breakdown") else ""
        return base_rate(self.symbol, mine, self.bars, at_ts, tier, level, self.cfg, rule)

    def for_tag(self, tag: str, up: bool, at_ts: int) -> BaseRate | None:
        """The base rate of a confirmation about the level `tag` names (a signal as a
        paper run's event carries it), up or down; None for a tag that names no level."""
        level = self.names.get(tag)
        if level is None:
            return None
        return self.base_rate("breakout" if up else "breakdown", level, at_ts)

    def for_signal(self, sig: Signal) -> BaseRate | None:
        """The base rate of a strategy's signal (its tag names the level); None for a
        signal about no level."""
        level, way = self.names.get(sig.tag), direction_of(sig)
        if level is None or way is None:
            return None
        return self.base_rate("breakout" if way == "up" else "breakdown", level, sig.ts)


def known_bars(bars: BarSeries, at_ts: int) -> int:
    """How many bars (from the first) had closed before `at_ts`."""
    if bars.timeframe.daily:
        day = session_day(ns_to_et(at_ts).date())
        return int(np.searchsorted(bars.session, day, side="left"))
    ends = bars.ts + bars.interval_ns
    return int(np.searchsorted(ends, at_ts, side="right"))


def base_rate(
    symbol: str,
    events: Sequence[Event],
    bars: BarSeries,
    at_ts: int,
    tier: Tier,
    level: float,
    cfg: StudyConfig,
    rule: str = "",
) -> BaseRate:
    """The base rate of `events` (one tier at one level) as known before `at_ts`."""
    hold = cfg.hold_bars
    known = known_bars(bars, at_ts)
    past = [e.index for e in events if e.index + hold < known]  # outcome closed before
    n = len(past)
    if n < cfg.min_events:
        return BaseRate(symbol, tier, level, hold, n, None, None, None, cfg.min_events, rule)
    idx = np.asarray(past)
    later = bars.close[idx + hold].astype(np.float64)
    up = DIRECTIONS[tier] == "up"
    held = int(np.sum(later > level if up else later < level))
    change = (later / bars.close[idx] - 1.0) * 100.0
    median = bootstrap(change, cfg.bootstrap, cfg.seed)[1]
    ci = (median.low, median.high)
    return BaseRate(symbol, tier, level, hold, n, held, median.value, ci, cfg.min_events, rule)
