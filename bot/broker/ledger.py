"""`OrderLedger`: what the broker's answers about orders mean for the state store.

An answer is a `BrokerOrder`, from a REST read or pushed by the trade-updates stream.
The ledger records its status (adopting the order and its legs: a bracket's stop and
take-profit are tracked as children of their entry) and books the fills it shows, once
each: a fill is keyed by order id + cumulative quantity, so a re-poll, a restart or the
same fill seen by REST and by the stream never double-counts. Answers arrive late,
twice or out of order, so a filled quantity never goes down and a final status never
goes back. The ledger makes no broker calls: `LiveBroker` reads and `OrderSender` sends.
"""

from __future__ import annotations

from bot import events as ev
from bot.alpaca.orders import BrokerOrder
from bot.alpaca.stream import StreamEvent
from bot.events.sinks import Publisher
from bot.live.reconcile import TERMINAL
from bot.models import Fill, OrderIntent, OrderType, Side
from bot.store.records import OrderRecord
from bot.store.state import StateStore


class OrderLedger:
    """One symbol's orders and fills in `store`, kept from the broker's answers."""

    def __init__(self, store: StateStore, symbol: str, events: Publisher) -> None:
        self.store = store
        self.symbol = symbol  # of legs whose answer lacks one
        self.events = events

    def status_of(self, cid: str, order: BrokerOrder) -> str:
        """The broker's status, unless it filled more than we booked: then "fill_pending",
        an open status, so the next sync books the fill against the bar it belongs to."""
        rec = self.store.get_order(cid)
        booked = rec.filled_qty if rec is not None else 0.0
        if order.filled_qty > booked + 1e-9 and order.status in TERMINAL:
            return "fill_pending"
        return order.status

    def adopt(self, cid: str, order: BrokerOrder, how: str) -> None:
        """The broker has our order `cid` (`how`: "submitted" or "settled"): its id and
        status are recorded, and its legs tracked; fills are left to the next sync."""
        self.store.update_order(cid, status=self.status_of(cid, order), broker_id=order.id)
        self.events.publish(
            ev.Order(client_order_id=cid, status=order.status, broker_id=order.id, how=how)
        )
        for leg in order.legs:
            self.track_leg(self._family(cid), leg)

    def _family(self, cid: str) -> str:
        """The entry a protective order belongs to (an OCO's legs belong to the entry)."""
        rec = self.store.get_order(cid)
        return rec.parent if rec is not None and rec.parent is not None else cid

    def track_leg(self, parent: str, leg: BrokerOrder) -> None:
        """Record a protective order of `parent`'s (first seen: as a new child) with the
        broker's status, id and stop price."""
        if self.store.get_order(leg.client_order_id) is None:
            purpose = "stop" if leg.order_type in ("stop", "stop_limit") else "take_profit"
            price_type = OrderType.STOP if purpose == "stop" else OrderType.LIMIT
            intent = OrderIntent(
                leg.client_order_id,
                leg.symbol or self.symbol,
                Side(leg.side),
                leg.qty,
                price_type,
                limit_price=leg.limit_price,
                stop_price=leg.stop_price,
                purpose=purpose,
            )
            self.store.record_intent(intent, parent=parent)
        status = self.status_of(leg.client_order_id, leg)
        self.store.update_order(
            leg.client_order_id, status=status, broker_id=leg.id, stop_price=leg.stop_price
        )

    def adopt_foreign(self, order: BrokerOrder) -> None:
        """An open order the bot did not send, taken over at start-up (`--adopt`)."""
        intent = OrderIntent(
            order.client_order_id, order.symbol, Side(order.side), order.qty, purpose="adopted"
        )
        self.store.record_intent(intent)
        self.store.update_order(order.client_order_id, status=order.status, broker_id=order.id)

    def book_with_legs(self, cid: str, order: BrokerOrder, ts: int) -> list[Fill]:
        """Book `order` and each of its legs (tracked first), fills stamped with bar `ts`."""
        out = self._book(cid, order, ts)
        for leg in order.legs:
            self.track_leg(self._family(cid), leg)
            out.extend(self._book(leg.client_order_id, leg, ts))
        return out

    def _book(self, cid: str, order: BrokerOrder, ts: int) -> list[Fill]:
        """Book what `order` (a REST read or a pushed event) says is new. Reads arrive late,
        twice or out of order: a filled quantity never goes down and a final status never
        goes back, and a fill is keyed by order + cumulative quantity, so the same fill
        seen by REST and by the stream is booked once."""
        rec = self.store.get_order(cid)
        if rec is None:
            return []
        if order.filled_qty < rec.filled_qty - 1e-9 or (
            rec.status in TERMINAL and order.status not in TERMINAL
        ):
            return []  # an older view of the order than the one booked
        fills: list[Fill] = []
        delta = order.filled_qty - rec.filled_qty
        if delta > 1e-9 and order.filled_avg_price is not None:
            # Price of the new part: from the change in quantity x average price.
            prev_cost = (rec.avg_price or 0.0) * rec.filled_qty
            price = (order.filled_avg_price * order.filled_qty - prev_cost) / delta
            fill = Fill(cid, rec.side, delta, round(price, 6), ts, 0.0, rec.purpose, rec.symbol)
            if self.store.add_fill(f"{cid}:{order.filled_qty:g}", fill):
                fills.append(fill)
        self.store.update_order(
            cid,
            status=order.status,
            filled_qty=order.filled_qty,
            avg_price=order.filled_avg_price,
            broker_id=order.id,
        )
        return fills

    def apply_update(self, update: StreamEvent, ts: int) -> list[Fill]:
        """A trade update pushed by the broker: booked as a REST read of that order
        would be (with its legs), stamped with the session bar `ts`."""
        order = update.order
        if order is None or self.store.get_order(order.client_order_id) is None:
            return []  # not ours, or a leg not tracked yet: the next REST read adds it
        return self.book_with_legs(order.client_order_id, order, ts)

    def parent_terminal(self, rec: OrderRecord) -> bool:
        """Whether the entry `rec` protects is done (or unknown): then `rec` is read back
        by itself, no longer as a leg of its parent."""
        parent = self.store.get_order(rec.parent or "")
        return parent is None or parent.status in TERMINAL


__all__ = ["OrderLedger"]
