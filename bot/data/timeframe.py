"""`Timeframe`: how long one bar is, "1d" (a session) or "<n>m" (n minutes; "<n>h" is
read as n x 60 minutes).

The one place where a timeframe's text is read: bar files, series, the emulator's tracks,
Alpaca's data requests, annualising metrics. It is a `str` subclass on purpose: the
value goes into metrics.json, file names, messages and comparisons with "1d" unchanged,
while what it means (daily or not, the bar length, bars per year) is parsed once, when
it is made; a text that is no timeframe is refused there. Imports nothing of the bot.
"""

from __future__ import annotations

import re

_TEXT = re.compile(r"1d|([1-9][0-9]*)m|([1-9][0-9]*)h")
# Alpaca's data API spelling ("1Day", "5Min"; alpaca-py's TimeFrame prints "1Day",
# "1Min", and its short forms "1D", "1T"): only what the emulator serves.
_ALPACA = re.compile(r"(?:1(?P<day>Day|D))|(?P<n>[1-9][0-9]*)(?:Min|T)")
_NS_PER_MIN = 60_000_000_000
SESSION_MINUTES = 390  # 09:30-16:00 ET
SESSIONS_PER_YEAR = 252


class Timeframe(str):
    """A bar length as text ("1d", "1m", "5m"), with what it means parsed once."""

    minutes: int  # bar length in minutes; a daily bar counts as a whole regular session
    daily: bool

    def __new__(cls, text: str) -> Timeframe:
        if isinstance(text, Timeframe):
            return text
        m = _TEXT.fullmatch(str(text))
        if m is None:
            raise ValueError(
                f"{text!r} is not a timeframe: use 1d, <minutes>m or <hours>h, e.g. 5m, 1h"
            )
        if m[2] is not None:  # hours are minutes: "1h" is "60m", one spelling everywhere
            return cls(f"{int(m[2]) * 60}m")
        self = super().__new__(cls, text)
        self.daily = m[1] is None
        self.minutes = SESSION_MINUTES if self.daily else int(m[1])
        return self

    @classmethod
    def of_minutes(cls, minutes: int) -> Timeframe:
        return cls(f"{max(int(minutes), 1)}m")

    @classmethod
    def from_alpaca(cls, text: str) -> Timeframe | None:
        """The timeframe of an Alpaca data request's `timeframe` parameter, or None."""
        m = _ALPACA.fullmatch(text)
        if m is None:
            return None
        return DAILY if m["day"] else cls.of_minutes(int(m["n"]))

    @property
    def interval_ns(self) -> int:
        """The bar grid: minutes for intraday bars; a calendar day for daily bars (their
        real length, the session, comes from the exchange calendar)."""
        return 86_400 * 1_000_000_000 if self.daily else self.minutes * _NS_PER_MIN

    @property
    def periods_per_year(self) -> float:
        """Bars per year for annualising: 252 sessions x bars per 6.5-hour session."""
        if self.daily:
            return float(SESSIONS_PER_YEAR)
        return SESSIONS_PER_YEAR * float(SESSION_MINUTES) / self.minutes

    def __reduce__(self) -> tuple[type[Timeframe], tuple[str]]:
        return Timeframe, (str(self),)  # pickled as its text (sweep workers), parsed again


DAILY = Timeframe("1d")
MINUTE = Timeframe("1m")
