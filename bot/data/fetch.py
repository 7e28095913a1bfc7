"""Filling the market-data store from Alpaca: `bot data fetch` and `bot data update`.

- The broker's clock is "now", not this machine's: a request never asks for bars the
  data plan may not show yet (the free plan's SIP ends 15 minutes back; the market-data
  client moves the end), and against the emulator "now" is its replay clock.
- A symbol is looked up first (`GET /v2/assets/{symbol}`): Alpaca answers an unknown
  symbol's bars with an empty list, which would read as "no data"; the asset lookup says
  404, and the user gets "unknown symbol" with its name.
  (https://docs.alpaca.markets/reference/get-v2-assets-symbol_or_asset_id)
- Every bar passes the same rules as a bar file (bot/data/checks.py); a refused bar is
  reported and never stored.
- `update` fetches from a few sessions before the last stored bar, not just after it:
  Alpaca revises bars after the close (late and corrected trades are added to the day's
  consolidated bar), and the merge replaces a revised bar in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from bot.data.series import BarSeries
from bot.data.store import BarStore, Coverage, WriteResult, check_symbol
from bot.data.timeframe import Timeframe
from bot.models import ET, BarRejection, DataError, session_date

REVISION_SESSIONS = 5  # sessions re-read before the last stored bar by `update`
DEFAULT_SPAN = {True: timedelta(days=11 * 366), False: timedelta(days=30)}  # daily, minute


class Market(Protocol):
    """Bars from the data API (bot/alpaca/marketdata.py's AlpacaMarketData)."""

    def checked_bars(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> tuple[BarSeries, list[BarRejection]]: ...


class Catalog(Protocol):
    """What the trading API says about symbols and time (bot/alpaca/trading.py)."""

    def asset(self, symbol: str) -> dict[str, Any] | None: ...

    def clock(self) -> dict[str, Any]: ...


class UnknownSymbol(DataError):
    """The broker knows no asset by this symbol."""


@dataclass
class FetchReport:
    """What one fetch did to one dataset."""

    symbol: str
    timeframe: Timeframe
    start: datetime
    end: datetime
    written: WriteResult
    rejected: list[BarRejection] = field(default_factory=list)
    coverage: Coverage | None = None


def start_of(day: str | date | None, timeframe: Timeframe, now: datetime) -> datetime:
    """Midnight ET of `day` (YYYY-MM-DD), or the default span back from `now`."""
    if day is None:
        return (now - DEFAULT_SPAN[timeframe.daily]).astimezone(ET)
    try:
        d = pd.Timestamp(day).date()
    except ValueError:
        raise DataError(f"--from {day!r} is not a date (use YYYY-MM-DD)") from None
    return datetime.combine(d, datetime.min.time(), ET)


class Fetcher:
    """Fetches into one store, through one market-data client and one trading client."""

    def __init__(
        self,
        store: BarStore,
        market: Market,
        catalog: Catalog,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.market = market
        self.catalog = catalog
        self.progress = progress

    def now(self) -> datetime:
        return datetime.fromisoformat(str(self.catalog.clock()["now"])).astimezone(ET)

    def known(self, symbols: Sequence[str]) -> list[str]:
        """The symbols, checked and upper-cased; UnknownSymbol names every unknown one."""
        checked = [check_symbol(s) for s in symbols]
        unknown = [s for s in checked if self.catalog.asset(s) is None]
        if unknown:
            raise UnknownSymbol(
                f"unknown symbol{'s' if len(unknown) > 1 else ''} at the broker: "
                f"{', '.join(unknown)} (no asset by that name; check the spelling)"
            )
        return checked

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime | None = None
    ) -> FetchReport:
        """Bars of [start, end] (end: the broker's now) merged into the store."""
        end = end or self.now()
        if end <= start:
            raise DataError(f"nothing to fetch: {start:%Y-%m-%d} is not before {end:%Y-%m-%d}")
        self.progress(f"{symbol} {timeframe}: {start:%Y-%m-%d} .. {end:%Y-%m-%d %H:%M} ET")
        bars, rejected = self.market.checked_bars(symbol, timeframe, start, end)
        written = self.store.write(bars) if len(bars) else WriteResult()
        coverage = (
            self.store.coverage(symbol, timeframe) if self.store.has(symbol, timeframe) else None
        )
        return FetchReport(symbol, timeframe, start, end, written, rejected, coverage)

    def update(self, datasets: Sequence[tuple[str, Timeframe]]) -> list[FetchReport]:
        """Each dataset from a few sessions before its last bar to now."""
        now = self.now()
        reports = []
        for symbol, tf in datasets:
            stored = self.store.read(symbol, tf)
            sessions = sorted(set(stored.session.tolist()))
            first = sessions[max(0, len(sessions) - REVISION_SESSIONS)]
            start = datetime.combine(session_date(first), datetime.min.time(), ET)
            reports.append(self.fetch(symbol, tf, start, now))
        return reports
