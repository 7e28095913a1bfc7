"""Value types that flow through the engine: bars, signals, rejections.

Immutable and cheap to create: a backtest makes one `Bar` per row, so `Bar` is a
NamedTuple carrying the time as integer nanoseconds (UTC) and the trading session
as an integer day number; a `datetime` is built only when a person needs one.
This module imports nothing from the rest of the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
_EPOCH_DATE = date(1970, 1, 1)


def ns_to_et(ts_ns: int) -> datetime:
    """Integer UTC nanoseconds -> timezone-aware US/Eastern datetime."""
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(ET)


def et_to_ns(dt: datetime) -> int:
    """Timezone-aware datetime -> integer UTC nanoseconds (naive is refused)."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no timezone")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta // timedelta(microseconds=1)) * 1000


def session_day(d: date) -> int:
    """A session date as days since 1970-01-01 (the `Bar.session` number)."""
    return (d - _EPOCH_DATE).days


def session_date(day: int) -> date:
    """Inverse of `session_day`."""
    return _EPOCH_DATE + timedelta(days=day)


class Bar(NamedTuple):
    """One closed OHLCV bar. `ts` is the bar's open time in UTC nanoseconds;
    `session` is the US/Eastern trading date as a day number (see `session_day`)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    session: int

    @property
    def time(self) -> datetime:
        return ns_to_et(self.ts)


class DataError(Exception):
    """A data file that cannot be used; the message names the file, row and column."""


class SignalKind(StrEnum):
    BREAKOUT = "breakout"
    BREAKDOWN = "breakdown"


@dataclass(frozen=True, slots=True)
class Signal:
    """A confirmed crossing of a level, with everything a person needs to judge it."""

    kind: SignalKind
    level: str  # level name, e.g. "resistance_163.43" or "peak_52w"
    level_value: float  # the price level that was crossed
    ts: int  # bar time (UTC ns) of the bar that confirmed it
    close: float
    distance_pct: float  # (close / level - 1) * 100
    volume_ratio: float | None  # bar volume / mean of the lookback bars before it
    reason: str
    strategy: str = "level_breakout"

    @property
    def time(self) -> datetime:
        return ns_to_et(self.ts)

    def as_dict(self) -> dict[str, object]:
        return {
            "time": self.time.isoformat(),
            "ts": self.ts,
            "kind": str(self.kind),
            "level": self.level,
            "level_value": round(self.level_value, 4),
            "close": self.close,
            "distance_pct": round(self.distance_pct, 3),
            "volume_ratio": None if self.volume_ratio is None else round(self.volume_ratio, 3),
            "reason": self.reason,
            "strategy": self.strategy,
        }


@dataclass(frozen=True, slots=True)
class BarRejection:
    """A bar that was not accepted, with where it came from and why."""

    row: int | None  # 1-based line number in the source file (header is line 1)
    field: str
    value: str
    reason: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        row = f"row {self.row}: " if self.row is not None else ""
        return f"{where}{row}{self.field}={self.value!s}: {self.reason}"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What risk approved and the broker should do; `client_order_id` is deterministic."""

    client_order_id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    purpose: str = "entry"  # entry | exit | stop | take_profit | trail
    signal_ts: int = 0  # bar time of the signal that caused it
    reason: str = ""
    stop_loss: float | None = None  # protective stop to attach (bracket at the broker)
    take_profit: float | None = None
    level: str = ""  # the level whose signal caused it


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    side: Side
    qty: float
    price: float
    ts: int  # bar time at which it filled (UTC ns)
    commission: float = 0.0
    purpose: str = "entry"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A signal that risk (or the broker) refused, with the reason."""

    ts: int
    what: str  # e.g. "breakout resistance_163.43"
    reason: str


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip (entry fill to exit fill)."""

    side: str  # "long" or "short"
    qty: float
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    pnl: float  # after commissions
    commission: float
    entry_reason: str
    exit_reason: str
    level: str

    @property
    def entry_time(self) -> datetime:
        return ns_to_et(self.entry_ts)

    @property
    def exit_time(self) -> datetime:
        return ns_to_et(self.exit_ts)
