"""What `bot watch` and `bot replay` see in one symbol's minute bars: the level tiers on
every minute (bot/alerts/tiers.py), and the strategy's own rule on the bars of the chosen
timeframe, aggregated from those minutes (bot/data/aggregate.py), whose signals are the
`confirmed` tier. Alerts only: nothing here places an order.

The strategy is the symbol's own (`Settings.for_symbol`), through the strategy contract
only: its signals' `tag` names the level they are about, and the levels the tiers watch
are the symbol's watchlist levels, named as the strategy's status names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.alerts.tiers import Direction, LevelTiers, TierAlert, TierConfig
from bot.data.aggregate import MinuteAggregator
from bot.data.calendar import MarketCalendar
from bot.data.timeframe import Timeframe
from bot.models import Bar, Signal
from bot.models import Direction as Side
from bot.settings import Settings
from bot.watchlist import Level
from strategies import build_strategy


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

    def warm_up(self, bars: Iterable[Bar]) -> None:
        """Bars of the timeframe before the watched ones: the strategy's state only."""
        for bar in bars:
            self.strategy.on_bar(bar)
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
        alerts = self.tiers.on_bar(minute)
        closed = self.aggregator.push(minute)
        signals: list[Signal] = []
        for bar in closed:
            for sig in self.strategy.on_bar(bar):
                signals.append(sig)
                alerts += self._confirmed(sig, bar)
        return Seen(alerts, closed, signals)

    def close_session(self) -> Seen:
        """The session is over: its last bar of the timeframe closes now."""
        last = self.aggregator.flush()
        if last is None:
            return Seen([], (), [])
        alerts: list[TierAlert] = []
        signals = list(self.strategy.on_bar(last))
        for sig in signals:
            alerts += self._confirmed(sig, last)
        return Seen(alerts, (last,), signals)

    def _confirmed(self, sig: Signal, bar: Bar) -> list[TierAlert]:
        way = direction_of(sig)
        level = next((p for p, n in self.names.items() if n == sig.tag), None)
        if way is None or level is None:
            return []
        return self.tiers.confirm(bar, level, way, sig.reason)
