"""Bar feeds for the paper runner: a replay of a CSV file, or Alpaca's live bars.

A feed gives the runner its history (for warm-up), the bars to trade, and the clock:
- `ReplayFeed` replays a bundled or user CSV at any speed. The replay clock stands at
  each bar's end (a daily bar ends at its session's close, early closes included,
  from the NYSE calendar). When the broker is our emulator, the feed moves the
  emulator's replay clock to that time first, so the broker fills orders against the
  same bar the engine is about to see, exactly as the backtest's SimBroker does.
- `AlpacaFeed` fetches split-adjusted bars from Alpaca: a year and more of history for
  warm-up, then polls for each newly closed bar, with the broker's clock deciding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import numpy as np
import requests

from bot.alpaca import AlpacaMarketData
from bot.calendar import MarketCalendar
from bot.data import BarSeries
from bot.models import ET, Bar, ns_to_et, session_date

LOG = logging.getLogger("bot.feeds")
_MIN_NS = 60_000_000_000


class EmulatorClockError(Exception):
    """The emulator refused to move its clock where the replay needs it."""


class EmulatorAdmin:
    """The emulator's replay-clock control (its /_emulator admin routes)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_s

    def reset(self, now_ns: int) -> None:
        """Fresh account and order book, clock at `now_ns` (a new replay)."""
        when = ns_to_et(now_ns).isoformat()
        resp = requests.post(
            f"{self.base_url}/_emulator/reset", json={"now": when}, timeout=self.timeout
        )
        resp.raise_for_status()

    def now(self) -> datetime:
        resp = requests.get(f"{self.base_url}/_emulator/state", timeout=self.timeout)
        resp.raise_for_status()
        return datetime.fromisoformat(str(resp.json()["now"]).replace("Z", "+00:00"))

    def advance(self, until_ns: int) -> None:
        """Move the clock to `until_ns`. A clock already past it is left alone: the market
        moved on while the bot was down (those bars are history now, as they would be
        at Alpaca, and the stale-data guard keeps orders off them)."""
        when = ns_to_et(until_ns).isoformat()
        resp = requests.post(
            f"{self.base_url}/_emulator/advance", json={"until": when}, timeout=self.timeout
        )
        if resp.status_code == 422:
            now = self.now()
            if now.timestamp() * 1e9 >= until_ns:
                LOG.info("the emulator's clock is at %s, past %s: not moved", now, when)
                return
            try:
                why = str(resp.json().get("message", resp.text))
            except ValueError:
                why = resp.text
            raise EmulatorClockError(
                f"the emulator at {self.base_url} cannot move its clock to {when}: {why}"
            )
        resp.raise_for_status()


class ReplayFeed:
    def __init__(self, series: BarSeries, admin: EmulatorAdmin | None = None) -> None:
        self.series = series
        self.admin = admin
        self.interval_ns = series.interval_ns
        first = session_date(int(series.session[0])) if len(series) else date.today()
        last = session_date(int(series.session[-1])) if len(series) else date.today()
        self.calendar = MarketCalendar(first - timedelta(days=7), last + timedelta(days=10))

    def history(self) -> BarSeries:
        return self.series

    def bar_end(self, bar: Bar) -> int:
        if self.interval_ns >= 86_400 * 1_000_000_000:
            return self.calendar.session_hours(session_date(bar.session))[1]
        return bar.ts + self.interval_ns

    def regular_hours(self, ts: int) -> bool:
        return self.calendar.is_open(ts)

    def before_bar(self, bar: Bar) -> None:
        if self.admin is not None:
            self.admin.advance(self.bar_end(bar))

    def trading_bars(self, first: int) -> Iterator[Bar]:
        return self.series.iter_bars(first, len(self.series))


class AlpacaFeed:
    """Live bars from Alpaca's data API; the broker's clock says when a bar has closed."""

    def __init__(
        self,
        data: AlpacaMarketData,
        clock: Callable[[], dict[str, object]],
        symbol: str,
        timeframe: str,
        poll_s: float,
        stop: Callable[[], bool],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.data = data
        self.clock = clock
        self.symbol = symbol
        self.timeframe = timeframe
        self.interval_ns = 86_400 * 1_000_000_000 if timeframe == "1d" else _MIN_NS
        self.poll_s = poll_s
        self.stop = stop
        self.sleep = sleep
        self._history: BarSeries | None = None

    def _now(self) -> datetime:
        now = self.clock()["now"]
        assert isinstance(now, datetime)
        return now

    def history(self) -> BarSeries:
        now = self._now()
        # 252 sessions are about 365 calendar days; 400 leaves room for the volume window.
        days = 400 if self.timeframe == "1d" else 10
        self._history = self._closed(
            self.data.bars(self.symbol, self.timeframe, now - timedelta(days=days), now), now
        )
        return self._history

    def regular_hours(self, ts: int) -> bool:
        t = ns_to_et(ts)
        return t.weekday() < 5 and (9, 30) <= (t.hour, t.minute) < (16, 0)

    def before_bar(self, bar: Bar) -> None:
        return None

    def _closed(self, series: BarSeries, now: datetime) -> BarSeries:
        """Only bars that have ended: today's daily bar is not final until the close."""
        now_ns = int(now.timestamp() * 1e9)
        if self.timeframe == "1d":
            today = now.astimezone(ET).date()
            after_close = not self.clock()["is_open"] and now.astimezone(ET).hour >= 16
            keep = [
                i
                for i in range(len(series))
                if session_date(int(series.session[i])) < today
                or (session_date(int(series.session[i])) == today and after_close)
            ]
        else:
            keep = [i for i in range(len(series)) if int(series.ts[i]) + self.interval_ns <= now_ns]
        return series.take(np.array(keep, dtype="int64"))

    def trading_bars(self, first: int) -> Iterator[Bar]:
        assert self._history is not None
        last_ts = int(self._history.ts[-1]) if len(self._history) else 0
        yield from self._history.iter_bars(first, len(self._history))
        while not self.stop():
            now = self._now()
            try:
                fresh = self._closed(
                    self.data.bars(self.symbol, self.timeframe, now - timedelta(days=5), now), now
                )
            except Exception as exc:  # a feed hiccup must not kill the loop: retry next poll
                LOG.warning("bar fetch failed (%s); retrying in %.0f s", exc, self.poll_s)
                fresh = None
            if fresh is not None:
                for bar in fresh.iter_bars():
                    if bar.ts > last_ts:
                        last_ts = bar.ts
                        yield bar
            self.sleep(self.poll_s)
