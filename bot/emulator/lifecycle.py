"""Cancelling orders, at once or asynchronously, and settling what is pending.

`DELETE /v2/orders/{id}` answers 204 once Alpaca has accepted the cancel request, and
422 for an order that is no longer cancelable
(https://docs.alpaca.markets/reference/deleteorderbyorderid); the order itself is
canceled later, when the venue confirms. With
`state.cancel_latency_s` > 0 the emulator models that gap: the order, and the open legs
of a parent, go to `pending_cancel` and turn `canceled` once that many WALL-CLOCK
seconds have passed (`state.monotonic`, injectable for tests). A replace with
`state.replace_latency_s` > 0 leaves the old order `pending_replace` the same way
(bot/emulator/replace.py). Nothing runs in the background: `settle` turns due orders
final, and the HTTP layer calls it (through `EmulatorState.locked`) at the start of
every request, as does every replay advance.

Choices where Alpaca leaves room (documented, and tested in tests/test_emulator_strict.py):
- A pending order still holds its quantity and buying power (it is open: it shows in
  `GET /v2/orders?status=open`), so a sell that needs those shares gets Alpaca's 403
  "insufficient qty available for order" until the cancel is done.
- A cancel is only a request: an order in `pending_cancel` may still end `filled` if it
  could not be canceled in time (https://docs.alpaca.markets/docs/orders-at-alpaca,
  order lifecycle; Alpaca staff on https://forum.alpaca.markets/t/orders-are-showing-pending-cancel/813).
  To keep the replay deterministic, a pending order does NOT match new bars here, and
  day orders do not expire while pending: the wall clock ends the pending state.
- A second DELETE of an order that is already `pending_cancel` is refused with 422
  42210000, as Alpaca refuses any order that is not cancelable
  (https://docs.alpaca.markets/reference/deleteorderbyorderid); it is not a second 204.
  So is a DELETE of an order in `pending_replace` ("the order will reject cancel
  request while in this state", order lifecycle in docs/orders-at-alpaca).
- `DELETE /v2/orders` (cancel all) leaves orders that are already pending alone and
  does not list them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.emulator.errors import UNPROCESSABLE, ApiError
from bot.emulator.orders import PENDING, EmuOrder

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

_FINAL = {"pending_cancel": "canceled", "pending_replace": "replaced"}


def settle(state: EmulatorState) -> None:
    """Turn every pending order whose latency has run out into canceled / replaced; the
    time stamped is the replay clock's (all order times are)."""
    if not any(state.book.orders[i].status in PENDING for i in state.book.open_ids):
        return
    t = state.monotonic()
    for order in state.book.open_orders():
        due = order.pending_due
        if order.status in PENDING and due is not None and due <= t:
            state.book.set_status(order, _FINAL[order.status], state.now)


def cancel(state: EmulatorState, order_id: str) -> EmuOrder:
    """DELETE /v2/orders/{id}: cancel an open order and its legs still held or working."""
    order = state.book.get(order_id)
    if order.status in PENDING:
        raise ApiError(422, UNPROCESSABLE, f'order is already in "{order.status}" state')
    if not order.is_open:
        raise ApiError(422, UNPROCESSABLE, "order is not cancelable")
    latency = state.cancel_latency_s
    for o in (order, *(state.book.orders[i] for i in order.legs)):
        if not o.is_open or o.status in PENDING:
            continue
        if latency > 0:
            state.book.set_pending(o, "pending_cancel", state.monotonic() + latency, state.now)
        else:
            state.book.set_status(o, "canceled", state.now)
    return order


def cancel_all(state: EmulatorState) -> list[dict[str, Any]]:
    """DELETE /v2/orders: the 207 body, one entry per order whose cancel was accepted."""
    out = []
    for order in state.book.open_orders():
        # A parent cancelled just before may have taken this leg along.
        if order.is_open and order.status not in PENDING:
            cancel(state, order.id)
            out.append({"id": order.id, "status": 200, "body": order.to_json()})
    return out
