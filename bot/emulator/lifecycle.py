"""Cancelling orders, at once or asynchronously, and settling what is pending.

`DELETE /v2/orders/{id}` answers 204 once Alpaca has accepted the cancel request (for
the order and the rest of its bracket/OTO/OCO group, see `cancel`), and
422 for an order that is no longer cancelable
(https://docs.alpaca.markets/reference/deleteorderbyorderid); the order itself is
canceled later, when the venue confirms. With
`state.cancel_latency_s` > 0 (0.3 s by default) the emulator models that gap: the order,
and the open orders of its group, go to `pending_cancel` and turn `canceled` once that
many seconds have passed on the wall clock (`state.monotonic`, injectable for tests) or
on the replay clock (see below). A replace with
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
  day orders do not expire while pending.
- The latency runs on the wall clock OR the replay clock, whichever passes it first.
  A replay compresses time: the emulator's clock jumps a session per bar while the bot
  needs milliseconds per bar. Counting wall time only would keep a cancel requested at
  one close pending across the next sessions' bars, which no cancel at Alpaca does (the
  same reason the rate limit restarts its window, bot/emulator/ratelimit.py). So a
  replay advance first settles what was due by each bar's start (stamped at the due
  time, e.g. 16:00:00.3 ET); while the replay clock stands still (the bot waiting on
  one bar), the wall clock ends it, as at Alpaca.
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
from bot.emulator.jsonfmt import ns_to_utc
from bot.emulator.orders import PENDING, EmuOrder

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

_FINAL = {"pending_cancel": "canceled", "pending_replace": "replaced"}


def pending_until(state: EmulatorState, latency_s: float) -> tuple[float, int]:
    """When a cancel or replace requested now is done: `latency_s` of wall-clock time,
    or of replay-clock time, whichever passes first (see the module docstring)."""
    return state.monotonic() + latency_s, state.now_ns + int(latency_s * 1e9)


def settle(state: EmulatorState, upto_ns: int | None = None) -> None:
    """Turn every pending order whose latency has run out into canceled / replaced: by
    the wall clock (stamped with the replay clock's now, as all order times are), or by
    the replay clock reaching `upto_ns` (stamped at the moment it was due)."""
    if not any(state.book.orders[i].status in PENDING for i in state.book.open_ids):
        return
    t = state.monotonic()
    for order in state.book.open_orders():
        if order.status not in PENDING:
            continue
        due, due_ns = order.pending_due, order.pending_ns
        if due_ns is not None and upto_ns is not None and due_ns <= upto_ns:
            state.book.set_status(order, _FINAL[order.status], ns_to_utc(due_ns))
        elif due is not None and due <= t:
            state.book.set_status(order, _FINAL[order.status], state.now)


def group(state: EmulatorState, order: EmuOrder) -> list[EmuOrder]:
    """The order's group: its entry (the root parent) and the entry's legs, or the order
    alone. The two halves of an oco order are a group too (the stop is the leg)."""
    root = order
    while root.parent_id is not None:
        root = state.book.orders[root.parent_id]
    return [root, *(state.book.orders[i] for i in root.legs)]


def cancel(state: EmulatorState, order_id: str) -> EmuOrder:
    """DELETE /v2/orders/{id}: cancel an open order and every open order of its group."""
    order = state.book.get(order_id)
    _cancel_group(state, order)
    return order


def _cancel_group(state: EmulatorState, order: EmuOrder) -> list[EmuOrder]:
    """Cancel `order` and what is still open in its group; the orders whose cancel was
    accepted. "If any one of the orders is canceled, any remaining open order in the
    group is canceled" (https://docs.alpaca.markets/docs/orders-at-alpaca, bracket
    orders): cancelling the take-profit leg of a filled bracket takes its stop along.
    With `state.bracket_groups` off, only the order and its own legs. A partially
    filled order keeps its filled_qty when canceled."""
    if order.status in PENDING:
        raise ApiError(422, UNPROCESSABLE, f'order is already in "{order.status}" state')
    if not order.is_open:
        raise ApiError(422, UNPROCESSABLE, "order is not cancelable")
    latency = state.cancel_latency_s
    done = []
    if state.bracket_groups:
        members = [order, *(o for o in group(state, order) if o is not order)]
    else:  # the emulator's former rule: the order and its own legs only
        members = [order, *(state.book.orders[i] for i in order.legs)]
    for o in members:
        if not o.is_open or o.status in PENDING:
            continue
        if latency > 0:
            state.book.set_pending(o, "pending_cancel", pending_until(state, latency), state.now)
        else:
            state.book.set_status(o, "canceled", state.now)
        done.append(o)
    return done


def cancel_all(state: EmulatorState) -> list[dict[str, Any]]:
    """DELETE /v2/orders: the 207 body, one entry per order whose cancel was accepted
    (the other members of a group cancelled along are listed too)."""
    out = []
    for order in state.book.open_orders():
        # A group cancelled just before may have taken this order along.
        if order.is_open and order.status not in PENDING:
            for o in _cancel_group(state, order):
                out.append({"id": o.id, "status": 200, "body": o.to_json()})
    return out
