"""What `bot watch` and `bot replay` see in one symbol's minute bars: the level tiers on
every minute (bot/alerts/tiers.py), and the strategy's own rule on the bars of the chosen
timeframe, aggregated from those minutes (bot/data/aggregate.py), whose signals are the
`confirmed` tier. Alerts only: nothing here places an order.

The strategy is the symbol's own (`Settings.for_symbol`), through the strategy contract
only: its signals' `tag` names the level they are about, and the levels the tiers watch
are the symbol's watchlist levels, named as the strategy's status names them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.alerts.tiers import Direction, LevelTiers, TierAlert, TierConfig
from bot.data.aggregate import MinuteAggregator
from bot.data.calendar import MarketCalendar
from bot.data.timeframe import Timeframe
from bot.models import Bar, Signal
from bot.models import Direction as Side
from bot.settings import Settings
from bot.watchlist import Level
from strategies import build_strategy

if TYPE_CHECKING:
    from bot.study.baserate import StudyData
    from bot.study.events import Tier as StudyTier

# The alerts' tiers and their direction -> the study's (bot/study uses this table; it lives
# here so that a watcher without a study imports none of bot/study).
ALERT_TIERS: dict[tuple[str, str], StudyTier] = {
    ("crossed", "up"): "crossed_up",
    ("crossed", "down"): "crossed_down",
    ("confirmed", "up"): "breakout",
    ("confirmed", "down"): "breakdown",
    ("failed", "up"): "failed_breakout",
    ("failed", "down"): "failed_breakdown",
}

CHART_BARS = 120  # bars kept for an alert's chart


def direction_of(sig: Signal) -> Direction | None:
    """Up for a signal that opens a long, down for one that opens a short or closes a long."""
    if sig.enters is Side.LONG or sig.exits is Side.SHORT:
        return "up"
    if sig.enters is Side.SHORT or sig.exits is Side.LONG:
        return "down"
    return None


@dataclass
class Seen:
    """What one minute bar made the watcher see."""

    alerts: list[TierAlert]
    closed: tuple[Bar, ...]  # bars of the timeframe that closed with it
    signals: list[Signal]


class SymbolWatch:
    """One symbol: tiers on minutes, the strategy on `timeframe` bars."""

    def __init__(
        self,
        settings: Settings,
        symbol: str,
        timeframe: Timeframe,
        calendar: MarketCalendar,
        tiers: TierConfig | None = None,
    ) -> None:
        self.settings = settings
        self.symbol = symbol
        self.timeframe = timeframe
        self.strategy = build_strategy(settings.strategy)
        self.aggregator = MinuteAggregator(timeframe, calendar)
        self.levels: list[Level] = settings.levels_of(symbol)
        self.names: dict[float, str] = {}
        self.tiers = LevelTiers(symbol, {}, tiers or TierConfig())
        self.last_ts = -(2**63)  # the last minute taken (a later copy of it is a duplicate)
        self.bucket: list[Bar] = []  # the minutes of the bar in progress (for revisions)
        # What the engine used, for the alert's chart: recent minutes and timeframe bars.
        self.recent_minutes: deque[Bar] = deque(maxlen=CHART_BARS)
        self.recent_bars: deque[Bar] = deque(maxlen=CHART_BARS)
        # The symbol's history of events at its levels (bot/study): an alert's base rate.
        self.study: StudyData | None = None

    def warm_up(self, bars: Iterable[Bar]) -> None:
        """Bars of the timeframe before the watched ones: the strategy's state only."""
        for bar in bars:
            self.strategy.on_bar(bar)
            self.recent_bars.append(bar)
        self._name_levels()

    def _name_levels(self) -> None:
        # The strategy's own names of the levels (its status rows), so a signal's tag finds
        # its level; a level it does not show keeps a plain name.
        rows = {round(r.value, 6): r.name for r in self.strategy.status().rows if r.value}
        self.names = {lv.price: rows.get(round(lv.price, 6), f"level_{lv.price:g}")
                      for lv in self.levels}  # fmt: skip
        self.tiers = LevelTiers(self.symbol, dict(self.names), self.tiers.cfg)

    def on_minute(self, minute: Bar) -> Seen:
        if not self.names and self.levels:
            self._name_levels()
        self.last_ts = minute.ts
        self.recent_minutes.append(minute)
        alerts = self.tiers.on_bar(minute)
        closed = self.aggregator.push(minute)
        if closed:
            self.bucket = []
        if self.aggregator.partial is not None:  # a minute it took (not one out of hours)
            self.bucket.append(minute)
        signals: list[Signal] = []
        for bar in closed:
            self.recent_bars.append(bar)
            for sig in self.strategy.on_bar(bar):
                signals.append(sig)
                alerts += self._confirmed(sig, bar)
        return Seen(alerts, closed, signals)

    def revise(self, minute: Bar) -> bool:
        """A revised minute (Alpaca's updatedBars: late trades): applied to the bar in
        progress when it belongs to it; False when its bar has closed (the decision made
        on it stands, and the alerts already sent are not taken back)."""
        at = next((i for i, m in enumerate(self.bucket) if m.ts == minute.ts), None)
        if at is None:
            return False
        self.bucket[at] = minute
        self.aggregator.restate(self.bucket)
        for i, seen in enumerate(self.recent_minutes):  # the chart and summary show it too
            if seen.ts == minute.ts:
                self.recent_minutes[i] = minute
        return True

    def close_session(self, official: Bar | None = None) -> Seen:
        """The session is over: its last bar of the timeframe closes now. `official`: the
        data API's daily bar, which replaces the one built from minutes (daily only)."""
        last = self.aggregator.flush()
        self.bucket = []
        if official is not None and self.timeframe.daily:
            last = official
        if last is None:
            return Seen([], (), [])
        self.recent_bars.append(last)
        alerts: list[TierAlert] = []
        signals = list(self.strategy.on_bar(last))
        for sig in signals:
            alerts += self._confirmed(sig, last)
        return Seen(alerts, (last,), signals)

    def history_of(self, alert: TierAlert) -> str | None:
        """The alert's base rate: the past cases of its tier at its level whose outcome had
        closed before its bar (None without a study, or for a tier the study has not)."""
        tier = ALERT_TIERS.get((alert.tier, alert.direction))
        if self.study is None or tier is None:
            return None
        rate = self.study.base_rate(tier, alert.level, alert.ts)
        return None if rate is None else rate.sentence()

    def _confirmed(self, sig: Signal, bar: Bar) -> list[TierAlert]:
        way = direction_of(sig)
        level = next((p for p, n in self.names.items() if n == sig.tag), None)
        if way is None or level is None:
            return []
        return self.tiers.confirm(bar, level, way, sig.reason)
