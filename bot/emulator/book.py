"""The order book: every order ever created, by id and by client order id.

Knows nothing of cash or prices: it creates orders, changes their status with the
right timestamps, links bracket legs, answers the queries of `GET /v2/orders`, and
keeps the per-client-id count of created orders that the stats endpoint reports
(it must never exceed 1: a retried POST must not create a second order). It also says
what open orders hold: shares (`held_for_orders`) and buying power (`reserved`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from bot.data.calendar import MarketCalendar
from bot.emulator.errors import not_found
from bot.emulator.market import asset_id
from bot.emulator.orders import OPEN, PENDING, EmuOrder, OrderSpec
from bot.models import Side, et_to_ns


class OrderBook:
    def __init__(self) -> None:
        self.orders: dict[str, EmuOrder] = {}
        self.open_ids: dict[str, None] = {}  # insertion-ordered set of open order ids
        self.by_client_id: dict[str, str] = {}  # -> the newest order of a replace chain
        self.created_per_client_id: Counter[str] = Counter()
        self._seq = 0

    def get(self, order_id: str) -> EmuOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found("order not found")
        return order

    def by_client(self, client_order_id: str) -> EmuOrder:
        oid = self.by_client_id.get(client_order_id)
        if oid is None:
            raise not_found("order not found")
        return self.orders[oid]

    def open_orders(self, symbol: str | None = None) -> list[EmuOrder]:
        found = (self.orders[i] for i in self.open_ids)
        return [o for o in found if symbol is None or o.symbol == symbol]

    def create(
        self,
        spec: OrderSpec,
        cid: str,
        now: datetime,
        calendar: MarketCalendar,
        position_qty: float,
        day_close: int,
        reserved: float = 0.0,
        parent: EmuOrder | None = None,
    ) -> EmuOrder:
        """A new order; `day_close` (UTC ns) is when it expires if its time in force is day."""
        ns = et_to_ns(now)
        if parent is not None:  # a bracket/oto leg closes what its parent opens
            intent = f"{spec.side}_to_close"
        elif spec.side is Side.BUY:
            intent = "buy_to_close" if position_qty < 0 else "buy_to_open"
        else:
            intent = "sell_to_close" if position_qty > 0 else "sell_to_open"
        self._seq += 1
        order = EmuOrder(
            id=str(uuid.uuid4()),
            client_order_id=cid,
            symbol=spec.symbol,
            asset_id=asset_id(spec.symbol),
            side=spec.side,
            type=spec.type,
            qty=spec.qty,
            time_in_force=spec.time_in_force,
            order_class=spec.order_class,
            status="held" if parent else ("new" if calendar.is_open(ns) else "accepted"),
            created_at=now,
            seq=self._seq,
            limit_price=spec.limit_price,
            stop_price=spec.stop_price,
            extended_hours=spec.extended_hours,
            position_intent=intent,
            routes_at=calendar.routes_at(ns),
            expires_at=day_close if spec.time_in_force == "day" else None,
            reserved=reserved,
            parent_id=parent.id if parent else None,
        )
        self.add(order)
        return order

    def add(self, order: EmuOrder) -> None:
        self.orders[order.id] = order
        if order.is_open:
            self.open_ids[order.id] = None
        self.by_client_id[order.client_order_id] = order.id

    def set_status(self, order: EmuOrder, status: str, when: datetime) -> None:
        """Move an order to `status`, stamping the matching time field."""
        order.status, order.updated_at = status, when
        if status == "canceled":
            order.canceled_at = when
        elif status == "expired":
            order.expired_at = when
        elif status == "replaced":
            order.replaced_at = when
        elif status == "filled":
            order.filled_at = when
        elif status == "rejected":
            order.failed_at = when
        if status not in PENDING:
            order.pending_from = order.pending_due = order.pending_ns = None
        if status not in OPEN:
            order.reserved = 0.0
            self.open_ids.pop(order.id, None)

    def set_pending(
        self, order: EmuOrder, status: str, due: tuple[float, int], when: datetime
    ) -> None:
        """`pending_cancel` / `pending_replace` until `due`: (wall-clock seconds of
        state.monotonic(), replay-clock UTC ns), whichever comes first (lifecycle.py)."""
        prior = order.status
        self.set_status(order, status, when)
        if status == "pending_cancel":
            order.cancel_requested_at = when
        order.pending_from = prior
        order.pending_due, order.pending_ns = due

    def supersede(
        self, old: EmuOrder, new: EmuOrder, when: datetime, due: tuple[float, int] | None = None
    ) -> None:
        """`new` replaces `old`: old becomes `replaced` (or `pending_replace` until `due`),
        and the parent's legs, the OCO sibling and any legs of its own point to the new
        order at once."""
        if due is None:
            self.set_status(old, "replaced", when)
        else:
            self.set_pending(old, "pending_replace", due, when)
        old.replaced_by = new.id
        self.add(new)
        if new.parent_id is not None:
            parent = self.orders[new.parent_id]
            parent.legs = [new.id if i == old.id else i for i in parent.legs]
        if new.sibling_id is not None:
            self.orders[new.sibling_id].sibling_id = new.id
        for leg_id in new.legs:
            self.orders[leg_id].parent_id = new.id

    def held_for_orders(
        self, symbol: str, side: Side, skip: set[str | None] | None = None
    ) -> tuple[float, list[str]]:
        """Qty tied up by working orders on one side, and their ids.

        Orders of which only one can fill hold the largest of their quantities once: the
        two orders of an OCO pair (the legs of a bracket, the two halves of an oco order)
        and an order with the one replacing it while the replace is pending. A leg still
        waiting for its entry holds nothing; the stop leg of a filled entry, shown `held`
        by Alpaca, does (`EmuOrder.holds`). An order in `pending_cancel` or
        `pending_replace` still holds: it is open until the broker confirms
        (https://docs.alpaca.markets/docs/orders-at-alpaca, order lifecycle). What is
        held is what is left to fill (qty - filled_qty)."""
        skipped = set(skip or ())
        live = {
            o.id: o
            for o in self.open_orders(symbol)
            if o.side is side and o.id not in skipped and o.holds
        }
        root = {i: i for i in live}

        def find(i: str) -> str:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        for o in live.values():
            for j in (o.sibling_id, o.replaced_by):
                if j in root:
                    root[find(o.id)] = find(j)
        largest: dict[str, float] = {}
        for o in live.values():
            r = find(o.id)
            largest[r] = max(largest.get(r, 0.0), o.remaining)
        return sum(largest.values()), list(live)

    def reserved(self) -> float:
        """Buying power held by open orders. While a replace is pending, the old and the
        new order hold the larger of their two amounts, not the sum
        (https://docs.alpaca.markets/reference/patchorderbyorderid-1)."""
        total = 0.0
        for i in self.open_ids:
            o = self.orders[i]
            if o.status == "pending_replace" and o.replaced_by in self.open_ids:
                total += max(o.reserved - self.orders[str(o.replaced_by)].reserved, 0.0)
            else:
                total += o.reserved
        return total

    def query(
        self,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        nested: bool = False,
        symbols: list[str] | None = None,
        side: str | None = None,
    ) -> list[EmuOrder]:
        """`GET /v2/orders`: filter, then newest first (or oldest with direction=asc)."""
        picked = []
        for o in self.orders.values():
            if (status == "open" and not o.is_open) or (status == "closed" and o.is_open):
                continue
            if after is not None and not o.created_at > after:
                continue
            if until is not None and not o.created_at < until:
                continue
            if symbols and o.symbol not in symbols:
                continue
            if side is not None and str(o.side) != side:
                continue
            picked.append(o)
        if nested:
            # Legs roll up under their parent; one whose parent is filtered out stays visible.
            ids = {o.id for o in picked}
            picked = [o for o in picked if o.parent_id not in ids]
        picked.sort(key=lambda o: (o.created_at, o.seq), reverse=direction != "asc")
        return picked[:limit]

    def to_json(self, order: EmuOrder, nested: bool) -> dict[str, Any]:
        legs = [self.orders[i].to_json() for i in order.legs] if nested and order.legs else None
        return order.to_json(legs)
