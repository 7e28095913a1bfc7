"""Events of trading decisions and orders: signals, risk decisions, guards and halts,
position checks, order intents, order statuses, fills and trades. Imports bot.models only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot import models as m
from bot.events.base import Event, SymbolEvent, Value, optional_fields


# -------------------------------------------------------------------- decisions
@dataclass(frozen=True, slots=True, kw_only=True)
class Signal(SymbolEvent):
    """A strategy's signal; `details` are its display fields (`Signal.details()`)."""

    kind: ClassVar[str] = "signal"
    bar_time: str
    ts: int
    signal_kind: str  # the strategy's word, written as `kind`
    details: tuple[tuple[str, Value], ...]
    reason: str
    strategy: str
    tag: str
    label: str

    @classmethod
    def of(cls, sig: m.Signal) -> Signal:
        return cls(
            bar_time=sig.time.isoformat(),
            ts=sig.ts,
            signal_kind=str(sig.kind),
            details=tuple((d.key, d.value) for d in sig.details()),
            reason=sig.reason,
            strategy=sig.strategy,
            tag=sig.tag,
            label=sig.label(),
            symbol=sig.symbol or None,
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {} if self.symbol is None else {"symbol": self.symbol}
        out.update(bar_time=self.bar_time, ts=self.ts)
        out["kind"] = self.signal_kind
        out.update(self.details)
        out.update(reason=self.reason, strategy=self.strategy, tag=self.tag, label=self.label)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskApproved(SymbolEvent):
    """Risk turned a signal into an order (`risk` with decision "approve")."""

    kind: ClassVar[str] = "risk"
    signal_time: str
    client_order_id: str
    side: str
    qty: float

    @classmethod
    def of(cls, sig: m.Signal, intent: m.OrderIntent) -> RiskApproved:
        return cls(
            signal_time=sig.time.isoformat(),
            client_order_id=intent.client_order_id,
            side=str(intent.side),
            qty=intent.qty,
            symbol=intent.symbol or None,
        )

    def as_dict(self) -> dict[str, object]:
        return {"decision": "approve", **SymbolEvent.as_dict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskRejected(SymbolEvent):
    """A signal or order refused, by risk, a guard or the broker (decision "reject")."""

    kind: ClassVar[str] = "risk"
    what: str
    reason: str
    signal_time: str

    @classmethod
    def of(cls, rej: m.Rejection) -> RiskRejected:
        time = m.ns_to_et(rej.ts).isoformat()
        return cls(what=rej.what, reason=rej.reason, signal_time=time)

    def as_dict(self) -> dict[str, object]:
        return {"decision": "reject", **SymbolEvent.as_dict(self)}


RiskDecision = RiskApproved | RiskRejected


@dataclass(frozen=True, slots=True, kw_only=True)
class Guard(SymbolEvent):
    """A guard refused an order (with its id), or halted trading after a bar (without)."""

    kind: ClassVar[str] = "guard"
    optional: ClassVar[frozenset[str]] = optional_fields("client_order_id")
    client_order_id: str | None = None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt(SymbolEvent):
    kind: ClassVar[str] = "halt"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionMismatch(Event):
    """The broker's position differs from ours (`resolve` says what to do), or agrees
    again (`resolved`)."""

    kind: ClassVar[str] = "position_mismatch"
    optional: ClassVar[frozenset[str]] = optional_fields("resolved", "resolve")
    symbol: str
    broker_qty: float
    local_qty: float
    resolved: bool | None = None
    resolve: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Late(SymbolEvent):
    """An exit sent for a bar older than the stale limit (missed while the bot was down)."""

    kind: ClassVar[str] = "late"
    client_order_id: str
    purpose: str
    bar_time: str
    why: str


# -------------------------------------------------------------------- orders
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent(Event):
    kind: ClassVar[str] = "order_intent"
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    purpose: str
    signal_time: str
    stop_loss: float | None
    take_profit: float | None
    reason: str

    @classmethod
    def of(cls, i: m.OrderIntent) -> OrderIntent:
        return cls(
            client_order_id=i.client_order_id,
            symbol=i.symbol,
            side=str(i.side),
            qty=i.qty,
            type=str(i.type),
            purpose=i.purpose,
            signal_time=m.ns_to_et(i.signal_ts).isoformat(),
            stop_loss=i.stop_loss,
            take_profit=i.take_profit,
            reason=i.reason,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Order(SymbolEvent):
    """An order's status changed (submitted, adopted, replaced, in doubt, cancelled...);
    the optional fields say how or why, as each status needs."""

    kind: ClassVar[str] = "order"
    optional: ClassVar[frozenset[str]] = optional_fields(
        "why", "broker_id", "how", "stop_price", "new_id", "rest", "broker_status", "fallback",
        "error",
    )  # fmt: skip
    client_order_id: str
    status: str
    why: str | None = None
    broker_id: str | None = None
    how: str | None = None
    stop_price: float | None = None
    new_id: str | None = None
    rest: str | None = None  # the id under which the unfilled rest of an exit is owed
    broker_status: str | None = None
    fallback: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill(SymbolEvent):
    kind: ClassVar[str] = "fill"
    client_order_id: str
    side: str
    qty: float
    price: float
    bar_time: str
    commission: float
    position: float  # ours after the fill

    @classmethod
    def of(cls, f: m.Fill, position: float) -> Fill:
        return cls(
            client_order_id=f.client_order_id,
            side=str(f.side),
            qty=f.qty,
            price=round(f.price, 4),
            bar_time=m.ns_to_et(f.ts).isoformat(),
            commission=f.commission,
            position=position,
            symbol=f.symbol or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(SymbolEvent):
    kind: ClassVar[str] = "trade"
    side: str
    qty: float
    entry_time: str
    entry_price: float
    exit_time: str
    exit_price: float
    pnl: float

    @classmethod
    def of(cls, t: m.Trade) -> Trade:
        return cls(
            side=t.side,
            qty=t.qty,
            entry_time=t.entry_time.isoformat(),
            entry_price=round(t.entry_price, 4),
            exit_time=t.exit_time.isoformat(),
            exit_price=round(t.exit_price, 4),
            pnl=round(t.pnl, 2),
            symbol=t.symbol or None,
        )
