"""Trade-update events, derived by diffing the order book: no hook inside the order logic.

`OrderWatch` keeps, per order id, the last (status, filled_qty, filled_avg_price) it saw.
`poll()` (under `state.locked()`, which also settles pending cancels and replaces whose
wall-clock latency has run out) compares every order with that and returns the events
for what changed, as the `data` of Alpaca's `trade_updates` messages
(https://docs.alpaca.markets/docs/websocket-streaming, "Order updates"):

- a status change gives the event of the same name: accepted, pending_new, new,
  canceled, expired, replaced, rejected, pending_cancel, pending_replace (and
  done_for_day, stopped, suspended, calculated, which the emulator does not produce);
  `held` is no event, and neither is a bracket leg's `held` -> `new`;
- a rise of filled_qty gives one `fill` (the order is now complete) or `partial_fill`
  per execution, with its `qty`, `price`, `position_qty` (the position after it) and an
  `execution_id` that is a uuid5 of the order id and the cumulative filled qty after it,
  so the same execution always has the same id;
- an order that went from `accepted` to a fill (or to `expired`, or `canceled` after its
  routing time) between two polls reached the market first: a `new` is told before
  (its order shown as it was then).

The executions behind a rise come from the replay's fill records (`state.fills`, read
only), so two partial fills in one advance are two events, each with its own time,
price and position; if those records do not add up to the rise, the rise is told as one
execution priced from the change of filled_avg_price x filled_qty. Other changes of one
order between two polls are merged: the caller polls after every request and every
advance, and on a short timer. Events are ordered by their time (the order's own
stamp: filled_at, canceled_at, ..., all on the replay clock; `state.now` when it has
none), then by order creation. Must not import FastAPI or alpaca-py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.emulator.jsonfmt import dec, ns_to_utc, opt_dec, utc_iso

if TYPE_CHECKING:
    from bot.emulator.orders import EmuOrder
    from bot.emulator.state import EmulatorState

EXECUTIONS = uuid.uuid5(uuid.NAMESPACE_URL, "levelbot-emulator/executions")
_EPS = 1e-9
# Status -> event. filled / partially_filled are told by fill / partial_fill; held by none.
_STATUS_EVENT = {
    s: s
    for s in (
        "accepted",
        "pending_new",
        "new",
        "done_for_day",
        "canceled",
        "expired",
        "replaced",
        "rejected",
        "pending_cancel",
        "pending_replace",
        "stopped",
        "suspended",
        "calculated",
    )
}
_UNROUTED = frozenset({"", "accepted", "pending_new"})  # "": not seen before
_NOT_LIVE = _UNROUTED | {"new", "held", "rejected"}  # "new" is told by its own event
# The time field Alpaca stamps for each final status (the event's `timestamp`).
_STAMP = {
    "canceled": "canceled_at",
    "expired": "expired_at",
    "replaced": "replaced_at",
    "rejected": "failed_at",
}


@dataclass(frozen=True)
class _Seen:
    status: str
    filled_qty: float
    avg: float | None


_NOTHING = _Seen("", 0.0, None)


def _snap(order: EmuOrder) -> _Seen:
    return _Seen(order.status, order.filled_qty, order.filled_avg_price)


@dataclass
class _Event:
    when: datetime
    index: int  # the order's place in creation order
    step: int  # its place among that order's events of this batch
    data: dict[str, Any]
    symbol: str = ""
    signed_qty: float = 0.0  # fills: + bought, - sold
    position: float | None = None  # fills: the position after it, when the replay said


@dataclass
class OrderWatch:
    """What the trade-updates stream tells: the changes of the order book since last asked."""

    state: EmulatorState
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _book: object | None = None
    _fills: object | None = None  # state.fills, the replay's record of each execution
    _fills_seen: int = 0

    def baseline(self) -> None:
        """Take the book as it stands as seen: nothing before now is told (a stream
        that was not listening does not get what it missed, as at Alpaca)."""
        with self.state.locked():
            self._book = self.state.book
            self._seen = {o.id: _snap(o) for o in self.state.book.orders.values()}
            self._fills, self._fills_seen = self.state.fills, len(self.state.fills)

    def poll(self) -> list[dict[str, Any]]:
        """The events since the last poll (or baseline), oldest first."""
        state = self.state
        with state.locked():
            book = state.book
            if book is not self._book:  # a reset: a new, empty book, so nothing was missed
                self._book, self._seen = book, {}
            if state.fills is not self._fills:
                self._fills, self._fills_seen = state.fills, 0
            records: dict[str, list[dict[str, Any]]] = {}
            for record in state.fills[self._fills_seen :]:
                records.setdefault(str(record.get("order_id")), []).append(record)
            self._fills_seen = len(state.fills)
            found: list[_Event] = []
            for index, order in enumerate(book.orders.values()):
                now = _snap(order)
                before = self._seen.get(order.id, _NOTHING)
                if now == before:
                    continue
                self._seen[order.id] = now
                found += self._events(index, order, before, now, records.get(order.id, []))
            return self._finish(found)

    def _events(
        self,
        index: int,
        order: EmuOrder,
        before: _Seen,
        now: _Seen,
        records: list[dict[str, Any]],
    ) -> list[_Event]:
        state = self.state
        full = state.book.to_json(order, nested=True)  # the REST shape, legs included
        # The stream's order also says when a cancel was asked for (the documented
        # trade_updates message, https://docs.alpaca.markets/docs/websocket-streaming).
        full["cancel_requested_at"] = utc_iso(order.cancel_requested_at)
        out: list[_Event] = []

        def add(event: str, when: datetime | None, body: dict[str, Any], **extra: Any) -> None:
            at = when or state.now
            if out and at < out[-1].when:  # one order's events never go back in time
                at = out[-1].when
            data = {"event": event, "timestamp": utc_iso(at), "order": body, **extra}
            out.append(_Event(at, index, len(out), data))

        rise = now.filled_qty - before.filled_qty
        stamp = getattr(order, _STAMP.get(now.status, "updated_at"), None)
        routed = ns_to_utc(order.routes_at) if order.routes_at else None
        # Filled, or ended after its routing time (a day order expires after its session;
        # an OCO half is canceled when the other fills): it reached the market first, and
        # Alpaca would have sent `new` in between.
        went_live = rise > _EPS or (routed is not None and stamp is not None and routed <= stamp)
        if before.status in _UNROUTED and now.status not in _NOT_LIVE and went_live:
            add("new", routed, _as_of(full, "new", 0.0, None))
        execs = _executions(order, before, now, records) if rise > _EPS else []
        cum, cost = before.filled_qty, (before.avg or 0.0) * before.filled_qty
        for k, (when, qty, price, position) in enumerate(execs):
            cum, cost = cum + qty, cost + qty * price
            last = k == len(execs) - 1
            complete = cum >= order.qty - 1e-6 or (last and now.status == "filled")
            status = "filled" if complete else "partially_filled"
            body = full if last and now.status == status else _as_of(full, status, cum, cost / cum)
            execution = uuid.uuid5(EXECUTIONS, f"{order.id}:{dec(cum)}")
            extra = {"execution_id": str(execution), "price": dec(price), "qty": dec(qty)}
            add("fill" if complete else "partial_fill", when, body, **extra)
            signed = qty if str(order.side) == "buy" else -qty
            out[-1].symbol, out[-1].signed_qty, out[-1].position = order.symbol, signed, position
        event = _STATUS_EVENT.get(now.status)
        held_to_new = before.status == "held" and now.status == "new"
        if now.status != before.status and event is not None and not held_to_new:
            add(event, stamp or order.updated_at or order.created_at, full)
        return out

    def _finish(self, found: list[_Event]) -> list[dict[str, Any]]:
        """Sort by time, then creation, and give each fill the position after it: the
        account's position now, less the fills of this batch that came later."""
        found.sort(key=lambda e: (e.when, e.index, e.step))
        position: dict[str, float] = {}
        for ev in reversed(found):
            if not ev.symbol:
                continue
            if ev.position is not None:
                position[ev.symbol] = ev.position
            elif ev.symbol not in position:
                position[ev.symbol] = self.state.account.qty(ev.symbol)
            ev.data["position_qty"] = dec(position[ev.symbol])
            position[ev.symbol] -= ev.signed_qty
        return [ev.data for ev in found]


_Execution = tuple[datetime | None, float, float, float | None]  # when, qty, price, position


def _executions(
    order: EmuOrder, before: _Seen, now: _Seen, records: list[dict[str, Any]]
) -> list[_Execution]:
    """The executions behind a rise of filled_qty: the replay's fill records of this
    order since the last poll when they add up to it (each its own event, with its own
    time, price and position), else one execution for the whole rise."""
    rise = now.filled_qty - before.filled_qty
    try:
        found = [
            (_time(r.get("time")), float(r["qty"]), float(r["price"]), _opt(r.get("position_qty")))
            for r in records
        ]
    except (KeyError, TypeError, ValueError):
        found = []
    if found and abs(sum(e[1] for e in found) - rise) < 1e-6:
        return found
    paid = (now.avg or 0.0) * now.filled_qty - (before.avg or 0.0) * before.filled_qty
    complete = now.status == "filled"
    return [(order.filled_at if complete else order.updated_at, rise, paid / rise, None)]


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_of(body: dict[str, Any], status: str, filled: float, avg: float | None) -> dict[str, Any]:
    """The order as it was at an earlier event of the same batch."""
    out = {**body, "status": status, "filled_qty": dec(filled), "filled_avg_price": opt_dec(avg)}
    if status != "filled":
        out["filled_at"] = None
    if status in ("new", "partially_filled"):
        for key in ("canceled_at", "expired_at", "replaced_at", "failed_at"):
            out[key] = None
    return out
