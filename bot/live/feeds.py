"""The feed contract of the paper runner (`Feed`), and the replay feed.

A feed gives the runner its history (for warm-up), the bars to trade, and the clock.
`ReplayFeed` replays a bundled or user CSV at any speed. The replay clock stands at
each bar's end (a daily bar ends at its session's close, early closes included, from
the NYSE calendar). When the broker is our emulator, the feed moves the emulator's
replay clock to that time first (`EmulatorAdmin`, bot/emulator/client.py), so the
broker fills orders against the same bar the engine is about to see, exactly as the
backtest's SimBroker does. Live bars: bot/live/feed.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.events.sinks import Publisher
from bot.models import Bar, session_date

if TYPE_CHECKING:
    from bot.emulator.client import EmulatorAdmin


class Feed(Protocol):
    """Where closed bars come from, and the clock that goes with them.

    `ReplayFeed` below; live bars: `AlpacaFeed` in bot/live/feed.py."""

    interval_ns: int

    def history(self) -> BarSeries:
        """Bars up to now, for warm-up (a replay: the whole file)."""
        ...

    def before_bar(self, bar: Bar) -> None:
        """Called just before the engine sees `bar` (a replay moves the broker's clock)."""
        ...

    def regular_hours(self, ts: int) -> bool: ...

    def attach_events(self, events: Publisher) -> None:
        """The run's events, for the feed's own retries and warnings."""
        ...

    def trading_bars(self, first: int) -> Iterator[Bar]:
        """The bars to trade, from history index `first` on (live feeds keep polling)."""
        ...


class ReplayFeed:
    live = False

    def __init__(self, series: BarSeries, admin: EmulatorAdmin | None = None) -> None:
        self.series = series
        self.admin = admin
        self.interval_ns = series.interval_ns
        first = session_date(int(series.session[0])) if len(series) else date.today()
        last = session_date(int(series.session[-1])) if len(series) else date.today()
        self.calendar = MarketCalendar(first - timedelta(days=7), last + timedelta(days=10))

    def history(self) -> BarSeries:
        return self.series

    def attach_events(self, events: Publisher) -> None:
        """Log the emulator calls' retries in the run's journal."""
        if self.admin is not None:
            self.admin.retrier.events = events

    def bar_end(self, bar: Bar) -> int:
        if self.series.timeframe.daily:
            return self.calendar.session_hours(session_date(bar.session))[1]
        return bar.ts + self.interval_ns

    def regular_hours(self, ts: int) -> bool:
        return self.calendar.is_open(ts)

    def before_bar(self, bar: Bar) -> None:
        if self.admin is not None:
            self.admin.advance(self.bar_end(bar))

    def trading_bars(self, first: int) -> Iterator[Bar]:
        return self.series.iter_bars(first, len(self.series))
