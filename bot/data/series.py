"""The columnar bar series: validated bars in time order as numpy columns, the form every
backtest, sweep, replay and emulator reads (built by bot/data/load.py from files and by
the Alpaca feed through `validate_columns` in bot/data/checks.py).

Times are UTC nanoseconds and sessions US/Eastern dates, so a million bars are a few
arrays, and `Bar` tuples are made only when a caller walks them (`iter_bars`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import pandas as pd

from bot.data.timeframe import DAILY, Timeframe
from bot.models import ET, Bar, DataError

_CHUNK = 65_536  # bars converted to Python floats at a time (bounds memory on big files)
# A Bar from a row of 8 values without NamedTuple's Python-level _make (a million a backtest):
# `map(_new_tuple, repeat(Bar), rows)` calls tuple.__new__(Bar, row) with no wrapper between.
_new_tuple = tuple.__new__


@dataclass
class BarSeries:
    """Validated bars in time order, as numpy columns."""

    ts: np.ndarray  # int64 UTC ns (bar open time; daily bars: midnight ET of the session)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    session: np.ndarray  # int64 days since 1970-01-01 of the US/Eastern trading date
    timeframe: Timeframe = DAILY
    source: str = ""
    symbol: str = ""  # whose bars: every `Bar` made from them carries it

    def __post_init__(self) -> None:
        # Callers may pass the text ("1m"); it is parsed, and refused if wrong, here.
        self.timeframe = Timeframe(self.timeframe)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def interval_ns(self) -> int:
        return self.timeframe.interval_ns

    def bar(self, i: int) -> Bar:
        """Row `i` as a `Bar` (one row of what `iter_bars` yields)."""
        return next(self.iter_bars(i, i + 1))

    def iter_bars(self, start: int = 0, stop: int | None = None) -> Iterator[Bar]:
        """Yield `Bar`s; converts a chunk at a time so a million bars stay cheap (the chunks
        chained in C: no Python frame between two bars)."""
        stop = len(self) if stop is None else stop
        return chain.from_iterable(map(self._chunk, range(start, stop, _CHUNK), repeat(stop)))

    def _chunk(self, lo: int, stop: int) -> Iterator[Bar]:
        """The `Bar`s of rows [lo, min(lo + _CHUNK, stop))."""
        hi = min(lo + _CHUNK, stop)
        return map(
            _new_tuple,
            repeat(Bar, hi - lo),
            zip(
                self.ts[lo:hi].tolist(),
                self.open[lo:hi].tolist(),
                self.high[lo:hi].tolist(),
                self.low[lo:hi].tolist(),
                self.close[lo:hi].tolist(),
                self.volume[lo:hi].tolist(),
                self.session[lo:hi].tolist(),
                repeat(self.symbol, hi - lo),
                strict=True,
            ),
        )

    def index_of(self, when: pd.Timestamp | str, side: str = "left") -> int:
        """Position of the first bar at/after `when` (a date or time, ET if naive)."""
        try:
            t = pd.Timestamp(when)
        except ValueError:
            raise DataError(f"{when!r} is not a date or time (use YYYY-MM-DD)") from None
        t = t.tz_localize(ET) if t.tzinfo is None else t.tz_convert(ET)
        return int(np.searchsorted(self.ts, t.value, side=side))  # type: ignore[call-overload]

    def take(self, rows: np.ndarray) -> BarSeries:
        """The bars at the given positions (a copy)."""
        return BarSeries(
            self.ts[rows],
            self.open[rows],
            self.high[rows],
            self.low[rows],
            self.close[rows],
            self.volume[rows],
            self.session[rows],
            self.timeframe,
            self.source,
            self.symbol,
        )

    def slice(self, start: int, stop: int) -> BarSeries:
        return BarSeries(
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            self.session[start:stop],
            self.timeframe,
            self.source,
            self.symbol,
        )

    def digest(self) -> str:
        """A fingerprint of the bars, bit for bit (times, OHLCV, timeframe): two sources
        with the same digest serve the same bars (a replay and its emulator: bot/live/paper.py)."""
        h = hashlib.sha256(str(self.timeframe).encode())
        h.update(np.ascontiguousarray(self.ts, dtype="int64").tobytes())
        for col in (self.open, self.high, self.low, self.close, self.volume):
            h.update(np.ascontiguousarray(col, dtype="float64").tobytes())
        return h.hexdigest()

    def to_frame(self) -> pd.DataFrame:
        idx = pd.DatetimeIndex(pd.to_datetime(self.ts, utc=True)).tz_convert(ET)
        return pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=idx.rename("time"),
        )
