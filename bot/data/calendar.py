"""NYSE sessions (holidays, early closes) from exchange_calendars, for clocks and replays.

The schedule is read once into plain integer arrays (UTC nanoseconds) so that every
clock question afterwards is a bisect: no pandas in the request path, and the
Pandas4Warning that exchange_calendars 4.13 triggers under pandas 3 is raised only
here, at construction, where it is silenced (it is about pandas 4, not about us).
"""

from __future__ import annotations

import warnings
from bisect import bisect_left, bisect_right
from datetime import date, datetime, time, timedelta

import exchange_calendars as xc
import numpy as np
import pandas as pd

from bot.models import ET, et_to_ns, ns_to_et


class MarketCalendar:
    """XNYS regular sessions between two dates: open/close times and clock questions."""

    def __init__(self, start: date, end: date) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
            cal = xc.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat())
            schedule = cal.schedule
        self.dates: list[date] = [ts.date() for ts in schedule.index]
        self.opens: list[int] = schedule["open"].dt.tz_convert(None).to_numpy(np.int64).tolist()
        self.closes: list[int] = schedule["close"].dt.tz_convert(None).to_numpy(np.int64).tolist()
        self._by_date = {d: k for k, d in enumerate(self.dates)}
        self.first, self.last = start, end

    def covers(self, ns: int) -> bool:
        """Whether `ns` lies inside the schedule (with a following session to point to)."""
        return bool(self.closes) and self.opens[0] - 7 * 86_400 * 10**9 <= ns < self.closes[-1]

    def is_open(self, ns: int) -> bool:
        k = bisect_right(self.opens, ns) - 1
        return k >= 0 and ns < self.closes[k]

    def next_open(self, ns: int) -> int:
        """The first session open strictly after `ns` (Alpaca: tomorrow's while open)."""
        k = bisect_right(self.opens, ns)
        return self.opens[k] if k < len(self.opens) else self._beyond()

    def next_close(self, ns: int) -> int:
        """The first session close strictly after `ns` (today's while open)."""
        k = bisect_right(self.closes, ns)
        return self.closes[k] if k < len(self.closes) else self._beyond()

    def routes_at(self, ns: int) -> int:
        """When an order received at `ns` reaches the market: now if open, else the next open."""
        return ns if self.is_open(ns) else self.next_open(ns)

    def session_hours(self, d: date) -> tuple[int, int]:
        """Open and close of the session on `d` (09:30-16:00 ET if `d` is not a session)."""
        k = self._by_date.get(d)
        if k is not None:
            return self.opens[k], self.closes[k]
        return (
            et_to_ns(datetime.combine(d, time(9, 30), tzinfo=ET)),
            et_to_ns(datetime.combine(d, time(16, 0), tzinfo=ET)),
        )

    def sessions(self, start: date | None, end: date | None) -> list[tuple[date, int, int]]:
        """(date, open ns, close ns) of the sessions from `start` to `end`, both included."""
        lo = 0 if start is None else bisect_left(self.dates, start)
        hi = len(self.dates) if end is None else bisect_right(self.dates, end)
        return [(self.dates[k], self.opens[k], self.closes[k]) for k in range(lo, hi)]

    def _beyond(self) -> int:
        # Past the loaded schedule: the caller gets a time far enough to be obviously wrong
        # rather than an exception in the middle of serving a clock.
        return et_to_ns(datetime.combine(self.last + timedelta(days=1), time(9, 30), tzinfo=ET))


def calendar_json(
    d: date, open_ns: int, close_ns: int, settles: date | None = None
) -> dict[str, str]:
    """One `GET /v2/calendar` entry; alpaca-py needs open/close as exactly "HH:MM".
    `settlement_date` (required by https://docs.alpaca.markets/reference/getcalendar-1)
    is the next session (T+1); without one given, the next weekday."""
    if settles is None:
        settles = d + timedelta(days=3 if d.weekday() == 4 else 1)
    return {
        "date": d.isoformat(),
        "open": ns_to_et(open_ns).strftime("%H:%M"),
        "close": ns_to_et(close_ns).strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": settles.isoformat(),
    }
