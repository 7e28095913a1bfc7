"""Value types that flow through the engine: bars, signals, orders, fills, trades.

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
    `session` is the US/Eastern trading date as a day number (see `session_day`);
    `symbol` is whose bar it is (set by the loader or the feed; "" only in tests that
    build bars by hand). Last, so the seven market fields keep their positions."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    session: int
    symbol: str = ""

    @property
    def time(self) -> datetime:
        return ns_to_et(self.ts)


class DataError(Exception):
    """A data file that cannot be used; the message names the file, row and column."""


class Direction(StrEnum):
    """Which way a position points."""

    LONG = "long"
    SHORT = "short"


class Detail(NamedTuple):
    """One display field of a signal: its name and value in JSON events and signals.csv
    (rounded as people should read it), its column title and cell in terminal tables."""

    key: str
    value: str | float | None
    header: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """A strategy's decision at one bar: what it asks for and why.

    The intent is neutral: `enters` is the position the signal opens when the account
    is flat, `exits` the position it closes when the account holds one that a signal
    with the same `tag` opened (None: it opens or closes nothing). A reversal (a level
    broken upwards, a moving-average crossover) both exits a short and enters a long;
    risk decides which applies, the strategy never sees the account. A strategy may
    subclass this to carry typed details; `details()` and `label()` say how to show
    them, `id_tag()` how the tag is written in client order ids.
    """

    ts: int  # bar time (UTC ns) of the bar that confirmed it
    kind: str  # the strategy's word for what happened, e.g. "cross_up"
    tag: str  # pairs an exit with its entry (and names it in order ids and trades)
    enters: Direction | None
    exits: Direction | None
    close: float  # close of that bar
    reason: str
    strategy: str  # the registry name of the strategy that gave it
    id_prefix: str  # first part of its client order ids, short
    symbol: str = ""  # whose bar confirmed it (the bar's `symbol`)

    @property
    def time(self) -> datetime:
        return ns_to_et(self.ts)

    def id_tag(self) -> str:
        """The tag as written in client order ids."""
        return self.tag

    def details(self) -> tuple[Detail, ...]:
        """Fields shown between the kind and the reason, in order."""
        return (Detail("close", self.close, "close", f"{self.close:.2f}"),)

    def label(self) -> str:
        """The signal in a few words, for one-line logs."""
        return f"{self.kind} {self.tag}"

    def as_dict(self) -> dict[str, object]:
        """The JSON event: time, kind, the details, reason, strategy, tag and label."""
        out: dict[str, object] = {"time": self.time.isoformat(), "ts": self.ts}
        out["kind"] = str(self.kind)
        out.update((d.key, d.value) for d in self.details())
        out["reason"] = self.reason
        out["strategy"] = self.strategy
        out["tag"] = self.tag
        out["label"] = self.label()
        return out


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
    level: str = ""  # the tag of the signal that caused it (named `level` in the state)


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    side: Side
    qty: float
    price: float
    ts: int  # bar time at which it filled (UTC ns)
    commission: float = 0.0
    purpose: str = "entry"
    symbol: str = ""  # the order's symbol


@dataclass(frozen=True, slots=True)
class Rejection:
    """A signal that risk (or the broker) refused, with the reason."""

    ts: int
    what: str  # the signal's kind and tag, or an order id
    reason: str
    # Which way the refused signal pointed, when known (charts draw SHORT ones downwards).
    direction: Direction | None = None


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
    level: str  # the tag of the entry signal (the `level` column of trades.csv)
    symbol: str = ""  # the symbol of its fills

    @property
    def entry_time(self) -> datetime:
        return ns_to_et(self.entry_ts)

    @property
    def exit_time(self) -> datetime:
        return ns_to_et(self.exit_ts)
