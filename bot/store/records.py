"""What the state store gives back about orders: `OrderRecord` (one row of the `orders`
table), the statuses that count as still open at the broker, and the session of a bar
time. Kept apart from the store so the brokers that read records (bot/broker/live.py,
bot/broker/protection.py) need not know SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.models import OrderIntent, OrderType, Side, ns_to_et, session_day

# The bot's own states ("intent": recorded, not yet sent; "unknown": a send whose outcome
# is not known; "fill_pending": the broker filled more than is booked) and Alpaca's
# statuses of an order that can still change: an order in any of them is read back from
# the broker (`StateStore.orders(open_only=True)`) until it settles.
OPEN_STATUSES = (
    "fill_pending",
    "intent",
    "unknown",
    "accepted",
    "new",
    "held",
    "partially_filled",
    "pending_new",
    "pending_cancel",
    "pending_replace",
    "accepted_for_bidding",
    "done_for_day",
)


@dataclass(frozen=True)
class OrderRecord:
    """One order as the store holds it: the intent, its broker status and what filled."""

    client_order_id: str
    parent: str | None
    purpose: str
    symbol: str
    side: Side
    qty: float
    type: OrderType
    stop_price: float | None
    limit_price: float | None
    status: str
    broker_id: str | None
    filled_qty: float
    avg_price: float | None
    signal_ts: int
    reason: str
    level: str
    stop_loss: float | None
    take_profit: float | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def intent(self) -> OrderIntent:
        return OrderIntent(
            self.client_order_id,
            self.symbol,
            self.side,
            self.qty,
            self.type,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            purpose=self.purpose,
            signal_ts=self.signal_ts,
            reason=self.reason,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            level=self.level,
        )


def session_of(ts: int) -> int:
    """The session day number of a bar time (its US/Eastern date)."""
    return session_day(ns_to_et(ts).date())


def order_record(r: tuple[Any, ...]) -> OrderRecord:
    """An `orders` row (SELECT *, in the table's column order) as an `OrderRecord`;
    the timestamps and checksum after `take_profit` are the store's, not the order's."""
    return OrderRecord(
        client_order_id=r[0],
        parent=r[1],
        purpose=r[2],
        symbol=r[3],
        side=Side(r[4]),
        qty=r[5],
        type=OrderType(r[6]),
        stop_price=r[7],
        limit_price=r[8],
        status=r[9],
        broker_id=r[10],
        filled_qty=r[11],
        avg_price=r[12],
        signal_ts=r[13],
        reason=r[14],
        level=r[15],
        stop_loss=r[16],
        take_profit=r[17],
    )
