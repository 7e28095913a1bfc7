"""Live daily bars from Alpaca, on a schedule (the feed of `bot paper --broker alpaca`).

- Warm-up: at start it fetches as many sessions as the strategy needs (its own count,
  plus the ATR's, plus a margin), counted on the NYSE calendar back from the broker's
  clock (or back from the last bar the bot processed, after a long stop). Fewer bars
  than needed stops the start with a clear message. No replay setting applies here.
- Trading: on a first run only bars that close after the start are traded; after a
  restart the bars missed while down are replayed first (entries are then refused as
  stale by the guards, exits still go out, marked late).
- Schedule: no busy poll. It sleeps until the next session's close plus
  `settle_delay_s` (long enough for the official close and for delayed SIP data),
  fetches that session's bar, reads it again `reread_s` later, before deciding (a
  revised bar replaces the first read), and yields it. A bar that is not there yet (or
  not final: the data's delay is allowed for) is asked for again with a growing wait.
  About eight requests a session (clock, bar, re-read, position), whatever its length.
- While it waits, the heartbeat is written every `heartbeat_s`, so `bot status` can tell
  a waiting bot from a dead one; every wait ends at once on Ctrl-C or SIGTERM.
- Reads go through the one retry path (bot/live/retry.py); a refusal of the data plan
  ("subscription does not permit querying recent SIP data") ends the run with one
  message (`FeedRefused`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from bot import events as ev
from bot import lifecycle
from bot.broker.sim import BrokerError
from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.data.timeframe import DAILY, Timeframe
from bot.events.sinks import Publisher
from bot.live.retry import Retrier
from bot.models import ET, Bar, ns_to_et, session_date

LOG = logging.getLogger("bot.livefeed")
DAY_NS = 86_400 * 1_000_000_000
MISSING_WAIT_S = (60.0, 120.0, 240.0, 480.0, 900.0)  # a late bar: ask again after...


def close_visible(calendar: MarketCalendar, day: date, now_ns: int, delay: timedelta) -> bool:
    """Whether the session `day` has closed by `now_ns` in data served `delay` late."""
    return calendar.session_hours(day)[1] <= now_ns - int(delay.total_seconds() * 1e9)


class FeedRefused(Exception):
    """The data API refused the request for good (plan, symbol, permissions)."""


class FeedTooShort(Exception):
    """The broker returned fewer bars than the strategy needs to warm up."""


class BarSource(Protocol):
    delay: timedelta  # how far behind now the data is served (free-plan or delayed SIP)

    def bars(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> BarSeries: ...


@dataclass
class Timer:
    """Monotonic time and an interruptible sleep (a test moves both, and the broker)."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = lifecycle.sleep


class AlpacaFeed:
    live = True
    interval_ns = DAY_NS

    def __init__(
        self,
        data: BarSource,
        clock: Callable[[], dict[str, Any]],
        symbol: str,
        warmup_bars: int,
        retrier: Retrier,
        settle_s: float = 1200.0,
        reread_s: float = 30.0,
        heartbeat: Callable[[str], None] = lambda state: None,
        heartbeat_s: float = 15.0,
        timer: Timer | None = None,
        resume_from: int | None = None,
        events: Publisher | None = None,
    ) -> None:
        self.data, self.clock, self.symbol = data, clock, symbol
        self.warmup = warmup_bars
        self.retrier = retrier
        self.settle_ns = int(settle_s * 1e9)
        self.reread_s = reread_s
        self.heartbeat, self.heartbeat_s = heartbeat, heartbeat_s
        self.timer = timer or Timer()
        self.resume_from = resume_from
        self.events = events if events is not None else Publisher()
        self.wait: Callable[[float], None] = self.timer.sleep  # a run may wait on its stream
        self._history: BarSeries | None = None
        self._clock_at: tuple[int, float] = (0, 0.0)  # broker ns, local monotonic
        self.calendar: MarketCalendar | None = None

    def attach_events(self, events: Publisher) -> None:
        """Log this feed's retries and revised bars in the run's journal."""
        self.events = events
        self.retrier.events = events

    # -- warm-up -------------------------------------------------------------------
    def history(self) -> BarSeries:
        now = self._read_clock()
        today = ns_to_et(now).date()
        since = today if self.resume_from is None else min(today, ns_to_et(self.resume_from).date())
        # 1.6 calendar days a session leaves room for holidays; capped at ten years.
        back = min(int(self.warmup * 1.6) + 30, 3650)
        self.calendar = MarketCalendar(since - timedelta(days=back), today + timedelta(days=30))
        sessions = self.calendar.sessions(None, since)
        first = sessions[max(len(sessions) - self.warmup - 5, 0)][0]
        start = datetime.combine(first, datetime.min.time(), ET)
        series = self._fetch(start, now, "fetching the warm-up history")
        closed = self._closed(series, now)
        if len(closed) < self.warmup:
            raise FeedTooShort(
                f"Alpaca returned {len(closed)} closed daily bar(s) of {self.symbol} since "
                f"{first}, but the strategy needs {self.warmup} to warm up (its indicators "
                "and the ATR). Check the symbol and alpaca.feed, or use a symbol with a "
                "longer history."
            )
        self._history = closed
        return closed

    def first_trade_index(self, history: BarSeries, last: int | None) -> int:
        """A first live run trades only bars that close after the start; a restart
        carries on after the last bar it processed."""
        if last is None:
            return len(history)
        return int(history.ts.searchsorted(last, side="right"))

    def regular_hours(self, ts: int) -> bool:
        t = ns_to_et(ts)
        return t.weekday() < 5 and (9, 30) <= (t.hour, t.minute) < (16, 0)

    def before_bar(self, bar: Bar) -> None:
        return None

    # -- trading -------------------------------------------------------------------
    def trading_bars(self, first: int) -> Iterator[Bar]:
        yield from self.missed_bars(first)
        for day in self.due_days(self.last_day()):
            bar = self._final_bar(day)
            if bar is not None:
                yield bar

    def missed_bars(self, first: int) -> Iterator[Bar]:
        """The history's bars from `first` on: those a restart missed while down."""
        assert self._history is not None
        return self._history.iter_bars(first, len(self._history))

    def last_day(self) -> date:
        """The session of the history's last bar."""
        assert self._history is not None
        hist = self._history
        return session_date(int(hist.session[-1])) if len(hist) else date.min

    def due_days(self, last_day: date) -> Iterator[date]:
        """Each session after `last_day` once its close (plus the settle delay) has
        passed on the broker's clock, waiting for it when none is due."""
        assert self.calendar is not None
        while True:
            now = self._read_clock()
            due = [
                d
                for d, _, close in self.calendar.sessions(last_day + timedelta(days=1), None)
                if close + self.settle_ns <= now
            ]
            if not due:
                self._wait_for_next(last_day)
                continue
            for d in due:
                last_day = d
                yield d

    def _wait_for_next(self, last_day: date) -> None:
        assert self.calendar is not None
        upcoming = self.calendar.sessions(last_day + timedelta(days=1), None)
        if not upcoming:  # past the loaded calendar: load the next months
            self.calendar = MarketCalendar(last_day, last_day + timedelta(days=400))
            upcoming = self.calendar.sessions(last_day + timedelta(days=1), None)
        wake = upcoming[0][2] + self.settle_ns
        self._sleep_until(wake, f"waiting for the {upcoming[0][0]} close")

    def _final_bar(self, day: date) -> Bar | None:
        """The day's bar once it is there, read twice; the second read wins."""
        for wait in (*MISSING_WAIT_S, None):
            bar = self._bar_of(day)
            if bar is not None:
                # Read it again a little later: a late print revises the final bar.
                self.sleep_for(self.reread_s, "re-reading")
                return self.reread(day, bar)
            if wait is None:
                break
            self.not_yet(day, wait)
            self.sleep_for(wait, f"waiting for the {day} bar")
        self.missing(day)
        return None

    def first_read(self, day: date) -> Bar | None:
        """The day's bar as it stands now, or None if it is not there (yet)."""
        return self._bar_of(day)

    def reread(self, day: date, bar: Bar) -> Bar:
        """The day's bar read again: a late print may have revised it (said, and used)."""
        again = self._bar_of(day)
        if again is None or again == bar:
            return bar
        LOG.warning("revised bar for %s: %s replaces %s", day, again, bar)
        revised = ev.BarRevised(
            day=day.isoformat(), first=bar, final=again, symbol=again.symbol or None
        )
        self.events.publish(revised)
        return again

    def not_yet(self, day: date, wait: float) -> None:
        LOG.info("no %s bar of %s from Alpaca yet; asking again in %.0f s", day,
                 self.symbol, wait)  # fmt: skip

    def missing(self, day: date) -> None:
        """The day's bar never came: skipped, and said."""
        LOG.warning("no %s bar of %s from Alpaca after %.0f min: skipped", day, self.symbol,
                    sum(MISSING_WAIT_S) / 60)  # fmt: skip
        self.events.publish(ev.Error(where="feed", error=f"no bar of {self.symbol} for {day}"))

    def sleep_for(self, seconds: float, state: str) -> None:
        """Sleep `seconds` of the broker's time (heartbeat included)."""
        self._sleep_until(self._estimate() + int(seconds * 1e9), state)

    def _bar_of(self, day: date) -> Bar | None:
        start = datetime.combine(day, datetime.min.time(), ET)
        now = self._read_clock()  # the broker's own time: what it serves depends on it
        series = self._closed(self._fetch(start, now, f"fetching the {day} bar"), now)
        for bar in series.iter_bars():
            if session_date(bar.session) == day:
                return bar
        return None

    # -- helpers -------------------------------------------------------------------
    def _fetch(self, start: datetime, now_ns: int, what: str) -> BarSeries:
        end = ns_to_et(now_ns)
        try:
            return self.retrier.call(lambda: self.data.bars(self.symbol, DAILY, start, end), what)
        except BrokerError as exc:
            raise FeedRefused(
                f"Alpaca's data API refused {what} for {self.symbol}: HTTP {exc.status} "
                f"{exc.message}. "
                + (
                    'Your plan does not include recent SIP data: keep alpaca.feed = "sip" '
                    'with alpaca.sip_delay_s = 900, or use "delayed_sip" or "iex".'
                    if "subscription" in exc.message.lower()
                    else "Check the keys, the symbol and alpaca.feed."
                )
            ) from None

    def _closed(self, series: BarSeries, now_ns: int) -> BarSeries:
        """Only final bars: Alpaca serves today's bar as it stands during the session, and
        delayed data (the free plan's SIP) shows the close only `delay` after it."""
        assert self.calendar is not None
        cal, delay = self.calendar, self.data.delay
        keep = [
            i
            for i in range(len(series))
            if close_visible(cal, session_date(int(series.session[i])), now_ns, delay)
        ]
        return series.take(np.array(keep, dtype="int64"))

    def _read_clock(self) -> int:
        c = self.retrier.call(self.clock, "reading the broker clock")
        now = c["now"]
        assert isinstance(now, datetime)
        ns = int(now.timestamp() * 1e9)
        self._clock_at = (ns, self.timer.monotonic())
        return ns

    def broker_now(self) -> int:
        return self._estimate()

    def _estimate(self) -> int:
        """The broker's time now, from its last reading and the local monotonic clock."""
        ns, mono = self._clock_at
        return ns + int((self.timer.monotonic() - mono) * 1e9)

    def _sleep_until(self, wake_ns: int, state: str) -> None:
        """Sleep until the broker's clock reaches `wake_ns`, heartbeat included."""
        LOG.info("%s: sleeping until %s", state, ns_to_et(wake_ns).isoformat())
        while True:
            left = (wake_ns - self._estimate()) / 1e9
            self.heartbeat(f"{state} (until {ns_to_et(wake_ns).isoformat()})")
            if left < 0.001:  # reached (a float clock cannot always add a microsecond)
                return
            self.wait(min(left, self.heartbeat_s))


__all__ = ["AlpacaFeed", "FeedRefused", "FeedTooShort", "Timer", "close_visible"]
