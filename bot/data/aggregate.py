"""Bars of a longer timeframe (5m, 15m, 30m, 1h = 60m, 1d) built from closed 1-minute bars:
a minute at a time for live streams (`MinuteAggregator`), or a whole minute `BarSeries` at
once for backtests and replays (`aggregate`). Both follow the one bucket rule below and give
the same bars; tests/test_aggregate.py checks them against pandas' `resample`.

The bucket rule:
- A session's buckets start at its open (09:30 ET) and are n minutes long: a 5m bar covers
  09:30-09:35, a 1h bar 09:30-10:30. The last bucket of a session is cut at its close (16:00
  ET, or 13:00 ET on an early close, from the NYSE calendar), so 15:30-16:00 is a 1h bar's
  last half hour and 12:30-13:00 an early-close day's.
- A daily bar covers the whole session and is stamped at midnight ET of the session, as the
  daily bars of `BarSeries` are; an intraday bar is stamped at its bucket's start (UTC ns).
- Minutes outside the regular session (pre-market, after-hours, after an early close) belong
  to no bucket and are skipped. A bucket without minutes makes no bar.
- open = the first minute's open, high = the highest high, low = the lowest low, close = the
  last minute's close, volume = the sum; `session` and `symbol` those of its minutes.

When a bar is complete, and given out (never before a minute that completes it was seen,
so nothing of the future leaks into it):
- its last minute arrives: the minute that ends at the bucket's end; or
- a later minute arrives (of a later bucket, after the close, or of a later session): the
  bucket's missing minutes had no trades or were lost, and waiting for them would block it
  forever; or
- the caller flushes it: `flush()` at the session close or the end of the data, or
  `flush(now)` on a clock tick once the bucket's end has passed (a feed's last minute that
  never comes).

Imports bot.models and bot.data (calendar, series, timeframe) only: nothing of the engine,
brokers, feeds or strategies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple, overload

import numpy as np

from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.data.timeframe import Timeframe
from bot.models import ET, Bar, et_to_ns, ns_to_et, session_date

NS_PER_MIN = 60_000_000_000
# A daily bucket's length: longer than any session, so a session holds one bucket, from
# its open, cut at its close.
_DAY_NS = 86_400 * 1_000_000_000
_NOTHING: tuple[Bar, ...] = ()


class SessionHours(NamedTuple):
    """One session's regular hours and the stamp of its daily bar, as UTC ns."""

    open: int
    close: int
    midnight: int  # 00:00 ET of the session date: the daily bar's `ts`


def session_hours(calendar: MarketCalendar, session: int) -> SessionHours:
    """The hours of `session` (a `Bar.session` day number). A date outside the calendar's
    span is refused: its early close would be missed without a word."""
    day = session_date(session)
    if not calendar.first <= day <= calendar.last:
        raise ValueError(
            f"session {day} is outside the market calendar ({calendar.first} to "
            f"{calendar.last}); build the calendar to cover the bars"
        )
    open_ns, close_ns = calendar.session_hours(day)
    return SessionHours(open_ns, close_ns, et_to_ns(datetime.combine(day, time(0), tzinfo=ET)))


def bucket_step(timeframe: Timeframe) -> int:
    """A bucket's length in ns; a daily bucket is longer than any session."""
    return _DAY_NS if timeframe.daily else timeframe.minutes * NS_PER_MIN


@overload
def bucket_start(ts: int, open_ns: int, step: int) -> int: ...
@overload
def bucket_start(ts: np.ndarray, open_ns: np.ndarray, step: int) -> np.ndarray: ...
def bucket_start(ts: Any, open_ns: Any, step: int) -> Any:
    """The start of the bucket holding a minute that starts at `ts`, in a session opening at
    `open_ns` (ints, or numpy arrays element by element). The bucket ends at
    min(start + step, close)."""
    return open_ns + (ts - open_ns) // step * step


class MinuteAggregator:
    """Closed 1-minute bars in, closed bars of `timeframe` out, as soon as each is complete
    (see the module docstring). O(1) work and memory per minute: the bar in progress is
    kept as running values, never as a list of its minutes.

    Minutes must come in time order, each once: a minute not after the last one taken is a
    caller's error (revisions and duplicates are settled before this). A minute of a bucket
    already given out by `flush` is counted in `late` and left out: its bar is out."""

    __slots__ = (
        "_close",
        "_closed_until",
        "_day",
        "_end",
        "_high",
        "_hours",
        "_label",
        "_last",
        "_low",
        "_open",
        "_session",
        "_step",
        "_symbol",
        "_volume",
        "calendar",
        "late",
        "skipped",
        "timeframe",
    )

    def __init__(self, timeframe: Timeframe | str, calendar: MarketCalendar) -> None:
        self.timeframe = Timeframe(timeframe)
        self.calendar = calendar
        self.skipped = 0  # minutes outside regular hours
        self.late = 0  # minutes of a bucket already flushed
        self._step = bucket_step(self.timeframe)
        self._day = -(10**9)  # the session whose hours are in `_hours`
        self._hours = SessionHours(0, 0, 0)
        self._last = -(2**63)  # ts of the last minute taken
        self._closed_until = -(2**63)  # end of the last bucket flushed
        self._end = 0  # end of the bucket in progress; 0 while there is none
        self._label = self._session = 0
        self._open = self._high = self._low = self._close = self._volume = 0.0
        self._symbol = ""

    def push(self, minute: Bar) -> tuple[Bar, ...]:
        """Take one closed minute; return the bars it completes, oldest first (none, one,
        or two: a bucket left unfinished by a gap, then the minute's own if it ends it)."""
        ts = minute.ts
        if ts <= self._last:
            raise ValueError(
                f"minute {ns_to_et(ts).isoformat()} is not after the last one taken "
                f"({ns_to_et(self._last).isoformat()}): minutes must come in time order, once each"
            )
        self._last = ts
        if ts < self._end:  # same bucket: a bucket never spans a close, so same session
            if minute.high > self._high:
                self._high = minute.high
            if minute.low < self._low:
                self._low = minute.low
            self._close = minute.close
            self._volume += minute.volume
            return (self._take(),) if ts + NS_PER_MIN >= self._end else _NOTHING
        # A later minute: the bucket in progress, if any, is over.
        done = self._take() if self._end else None
        if minute.session != self._day:
            self._hours = session_hours(self.calendar, minute.session)
            self._day = minute.session
        hours = self._hours
        if not hours.open <= ts < hours.close:
            self.skipped += 1
            return _NOTHING if done is None else (done,)
        if ts < self._closed_until:
            self.late += 1
            return _NOTHING if done is None else (done,)
        start = bucket_start(ts, hours.open, self._step)
        self._end = min(start + self._step, hours.close)
        self._label = hours.midnight if self.timeframe.daily else start
        self._session, self._symbol = minute.session, minute.symbol
        self._open, self._high, self._low = minute.open, minute.high, minute.low
        self._close, self._volume = minute.close, minute.volume
        if ts + NS_PER_MIN >= self._end:
            mine = self._take()
            return (mine,) if done is None else (done, mine)
        return _NOTHING if done is None else (done,)

    @property
    def partial(self) -> Bar | None:
        """The bar in progress as it stands (provisional: more minutes may change it), or
        None when no bucket is open."""
        return self._bar() if self._end else None

    @property
    def partial_end(self) -> int | None:
        """The end (UTC ns) of the bucket in progress, or None: when `flush(now)` may close it."""
        return self._end or None

    def restate(self, minutes: Sequence[Bar]) -> None:
        """The bar in progress made anew from its minutes (one of them was revised): the
        same minutes, in order, each at or before the last one taken."""
        if not self._end or not minutes:
            return
        self._open, self._close = minutes[0].open, minutes[-1].close
        self._high = max(m.high for m in minutes)
        self._low = min(m.low for m in minutes)
        self._volume = sum(m.volume for m in minutes)

    def flush(self, now: int | None = None) -> Bar | None:
        """Give out the bar in progress, unfinished: unconditionally (the session closed, the
        data ended), or with `now` (UTC ns) only once its bucket's end is at or before `now`.
        A caller on a live feed passes a clock that allows for the feed's delay: a minute that
        arrives after its bucket was flushed is left out (`late`), as its bar is out."""
        if not self._end or (now is not None and now < self._end):
            return None
        self._closed_until = self._end
        return self._take()

    def _bar(self) -> Bar:
        return Bar(
            self._label,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._session,
            self._symbol,
        )

    def _take(self) -> Bar:
        bar = self._bar()
        self._end = 0
        return bar


def aggregate(
    minutes: BarSeries, timeframe: Timeframe | str, calendar: MarketCalendar | None = None
) -> BarSeries:
    """A whole 1-minute series as bars of `timeframe`, by the bucket rule of this module:
    the bars `MinuteAggregator` gives for the same minutes, then `flush()`. Without a
    calendar, one covering the series' sessions is built (it reads the exchange calendar)."""
    tf = Timeframe(timeframe)
    if minutes.timeframe.daily or minutes.timeframe.minutes != 1:
        raise ValueError(f"aggregate takes 1-minute bars, not {minutes.timeframe} bars")
    ts = np.asarray(minutes.ts, dtype=np.int64)
    if len(ts) > 1 and bool((np.diff(ts) <= 0).any()):
        raise ValueError("aggregate takes minutes in time order, each once")
    if len(ts) == 0:
        return _empty(minutes, tf)
    days, where = np.unique(np.asarray(minutes.session, dtype=np.int64), return_inverse=True)
    if calendar is None:
        first, last = session_date(int(days[0])), session_date(int(days[-1]))
        calendar = MarketCalendar(first - timedelta(days=7), last + timedelta(days=7))
    hours = np.array([session_hours(calendar, int(d)) for d in days], dtype=np.int64)
    opens, closes, midnights = (hours[:, k][where] for k in range(3))
    regular = np.flatnonzero((ts >= opens) & (ts < closes))
    ts, opens = ts[regular], opens[regular]
    step = bucket_step(tf)
    labels = midnights[regular] if tf.daily else bucket_start(ts, opens, step)
    if len(ts) == 0:
        return _empty(minutes, tf)
    # Minutes are in time order, so each bucket's minutes are one run of equal labels.
    firsts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    lasts = np.r_[firsts[1:], len(labels)] - 1
    o, h, lo, c, v, s = (
        np.asarray(col)[regular]
        for col in (
            minutes.open,
            minutes.high,
            minutes.low,
            minutes.close,
            minutes.volume,
            minutes.session,
        )
    )
    return BarSeries(
        labels[firsts],
        o[firsts],
        np.maximum.reduceat(h, firsts),
        np.minimum.reduceat(lo, firsts),
        c[lasts],
        np.add.reduceat(v, firsts),
        s[firsts],
        tf,
        minutes.source,
        minutes.symbol,
    )


def _empty(minutes: BarSeries, tf: Timeframe) -> BarSeries:
    empty = minutes.slice(0, 0)
    empty.timeframe = tf
    return empty
