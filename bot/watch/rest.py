"""The REST side of `bot watch`: what the stream cannot give (bot/watch/live.py).

- **Warm-up.** A daily timeframe: the official daily bars of the sessions before the one
  being watched, from `alpaca.feed` (the bars `bot paper` trades on, so a confirmation
  here is the one paper acts on). An intraday timeframe: `watch.warmup_sessions`
  sessions of minute bars from the stream's own feed, aggregated as the stream's are
  (bot/data/aggregate.py), so history and live bars never mix two feeds.
- **Catch-up.** Minute bars after the last one seen, up to the broker's "now": after a
  (re)connection (Alpaca does not replay what a dropped socket missed), while the
  stream is silent, and at the close. Only closed minutes of regular hours are kept.
- **The official daily bar** of a session that closed, for the daily confirmation.

Every read goes through the retry path (bot/live/retry.py). Each refused bar is logged by
AlpacaMarketData and never reaches the watcher.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import numpy as np

from bot.data.aggregate import aggregate
from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.data.timeframe import DAILY, Timeframe
from bot.live.feed import BarSource, close_visible
from bot.live.retry import Retrier
from bot.models import ET, Bar, ns_to_et, session_date, session_day

LOG = logging.getLogger("bot.watch")
MINUTE = Timeframe("1m")
NS_PER_MIN = 60_000_000_000


class RestBars:
    """Minute and daily bars over REST for the watcher, on the NYSE calendar."""

    def __init__(
        self,
        minutes: BarSource,
        daily: BarSource,
        calendar: MarketCalendar,
        retrier: Retrier,
    ) -> None:
        self.minutes_api, self.daily_api = minutes, daily
        self.calendar = calendar
        self.retrier = retrier

    def _read(self, api: BarSource, sym: str, tf: Timeframe, start: int, end: int) -> BarSeries:
        what = f"reading {sym} {tf} bars from {ns_to_et(start):%Y-%m-%d %H:%M}"
        a, b = ns_to_et(start), ns_to_et(end)
        return self.retrier.call(lambda: api.bars(sym, tf, a, b), what)

    def closed_minutes(self, sym: str, after: int, now: int) -> list[Bar]:
        """`sym`'s minutes that started after `after` and ended by `now`, regular hours."""
        if now - after <= NS_PER_MIN:
            return []
        series = self._read(self.minutes_api, sym, MINUTE, after + 1, now)
        out = []
        for bar in series.iter_bars():
            if bar.ts <= after or bar.ts + NS_PER_MIN > now:
                continue
            if self.regular(bar.ts):
                out.append(bar)
        return out

    def regular(self, ts: int) -> bool:
        """Whether the minute starting at `ts` is inside its session's regular hours."""
        day = ns_to_et(ts).date()
        if not self.calendar.sessions(day, day):
            return False
        open_ns, close_ns = self.calendar.session_hours(day)
        return open_ns <= ts < close_ns

    def daily_history(self, sym: str, before: date, bars: int) -> BarSeries:
        """The last `bars` official daily bars of sessions before `before` (one request,
        paged by the SDK)."""
        start = datetime.combine(before - timedelta(days=bars * 2 + 30), datetime.min.time(), ET)
        end = datetime.combine(before, datetime.min.time(), ET)
        series = self.retrier.call(
            lambda: self.daily_api.bars(sym, DAILY, start, end), f"reading {sym} daily bars"
        )
        keep = np.flatnonzero(series.session < session_day(before))[-bars:]
        return series.take(keep)

    def intraday_history(self, sym: str, tf: Timeframe, before: date, sessions: int) -> list[Bar]:
        """Bars of `tf` built from the minutes of the `sessions` sessions before `before`."""
        days = self.calendar.sessions(before - timedelta(days=sessions * 2 + 10), before)
        days = [d for d in days if d[0] < before][-sessions:]
        if not days:
            return []
        series = self._read(self.minutes_api, sym, MINUTE, days[0][1], days[-1][2])
        mask = [self.regular(int(t)) for t in series.ts]
        kept = series.take(np.flatnonzero(np.array(mask, dtype=bool)))
        return list(aggregate(kept, tf, self.calendar).iter_bars())

    def official_daily(self, sym: str, day: date, now: int) -> Bar | None:
        """The session's daily bar, if the data API serves it by `now`. Alpaca revises it
        after the close (late trades); the caller waits `paper.settle_delay_s` first."""
        start = datetime.combine(day, datetime.min.time(), ET)
        if not close_visible(self.calendar, day, now, self.daily_api.delay):
            return None  # delayed data: the close is not visible yet
        series = self.retrier.call(
            lambda: self.daily_api.bars(sym, DAILY, start, ns_to_et(now)),
            f"reading the {day} daily bar of {sym}",
        )
        return next((b for b in series.iter_bars() if session_date(b.session) == day), None)


__all__ = ["RestBars"]
