"""One symbol's study: every tier at every level, and the baseline of all bars.

`run_study` takes bars already loaded (the command's `--data`, the store or the bundled
file) and studies the events of bars [start, stop); the bars before `start` warm the
strategy up, and no bar after `stop` is read (`--to` is the end of the history, outcomes
included). The baseline measures every bar of [start, stop) as an up event, so a tier's
figures can be read against the market's drift over the same bars. `minute_bars` reads
the store's 1-minute bars, which time the intraday crosses on the days they cover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.config_load import store_path
from bot.data.series import BarSeries
from bot.data.source import regular_hours
from bot.data.store import BarStore
from bot.settings import Settings, StudyConfig
from bot.study.events import BREAKS, DIRECTIONS, TIERS, Event, Tier, find_events
from bot.study.outcomes import Outcomes, measure
from bot.study.stats import Summary, summarize
from strategies import build_strategy


@dataclass(frozen=True)
class TierStudy:
    """One tier at one level: its events, what followed each, and the figures."""

    level: float
    tier: Tier
    events: list[Event]
    outcomes: Outcomes
    summary: Summary


@dataclass(frozen=True)
class Study:
    symbol: str
    source: str
    rules: str  # the strategy's rules in one line
    config: StudyConfig
    start_ts: int  # the first and last bar studied
    end_ts: int
    bars: int
    minute_days: int  # days whose crosses were timed on minute bars
    tiers: list[TierStudy]
    baseline: Summary  # every bar of the range, as an up event
    baseline_outcomes: Outcomes


def run_study(
    settings: Settings,
    bars: BarSeries,
    start: int = 0,
    stop: int | None = None,
    minutes: BarSeries | None = None,
) -> Study:
    """The study of bars [start, stop) of `settings.symbol` (bars before `start` warm up)."""
    stop = len(bars) if stop is None else stop
    bars = bars.slice(0, stop)  # nothing after --to, not even as an outcome
    cfg = settings.study
    events = find_events(settings, bars, start, minutes)
    levels = sorted({lv.price for lv in settings.levels_of(settings.symbol)})
    tiers = []
    for level in levels:
        for tier in TIERS:
            mine = [e for e in events if e.level == level and e.tier == tier]
            out = measure(
                bars,
                [e.index for e in mine],
                [DIRECTIONS[tier] == "up"] * len(mine),
                cfg.horizons,
                [level] * len(mine) if tier in BREAKS else None,  # a failure can't fail
                cfg.false_within,
            )
            tiers.append(TierStudy(level, tier, mine, out, summarize(out, cfg)))
    every = np.arange(start, stop)
    base = measure(bars, every, np.ones(len(every), dtype=bool), cfg.horizons)
    days: set[int] = set()
    if minutes is not None and bars.timeframe.daily:
        days = set(minutes.session.tolist()) & set(bars.session[start:].tolist())
    return Study(
        settings.symbol,
        bars.source,
        build_strategy(settings.strategy).describe(),
        cfg,
        int(bars.ts[start]),
        int(bars.ts[stop - 1]),
        stop - start,
        len(days),
        tiers,
        summarize(base, cfg),
        base,
    )


def minute_bars(settings: Settings, symbol: str) -> BarSeries | None:
    """The store's 1-minute bars of `symbol` (regular hours unless the config says
    otherwise); None when it has none."""
    store = BarStore(store_path(settings.data.store))
    if not store.has(symbol, "1m"):
        return None
    bars = store.read(symbol, "1m")
    return regular_hours(bars) if settings.data.regular_hours_only else bars
