"""Replacing an open order (`PATCH /v2/orders/{id}`), Alpaca style.

The replacement is a new order with a new id and `replaces` = the old id; the old one
becomes `replaced` with `replaced_by` set. Only the price of the order's own type can
change (limit_price on a limit, stop_price on a stop), plus qty and time in force. It
keeps the old client_order_id unless a new one is given, and the old order's place in
the matching tie-break: SimBroker moves a stop in place, and paper must fill like the
backtest when a stop and a take-profit meet the same bar.

Alpaca's rules (https://docs.alpaca.markets/reference/patchorderbyorderid-1; the same
note is on the Broker API's https://docs.alpaca.markets/reference/replaceorderforaccount):
- "Order cannot be replaced when the status is accepted, pending_new, pending_cancel or
  pending_replace": 422 42210000. The pending ones are always refused; `accepted` and
  `pending_new` while `state.strict_replace_status` is on (the default; off, they are
  replaced as the emulator always did). A bot that moves a stop placed after the close
  before the next open meets this refusal.
- The PATCH answers with the new order at once; the old one is replaced asynchronously.
  With `state.replace_latency_s` > 0 (0.3 s by default) the old order stays
  `pending_replace` (open, not matched, still holding its shares; the two hold the
  larger of their buying powers, not the sum) until that many wall-clock seconds have
  passed, then `replaced` (bot/emulator/lifecycle.py settles it). The new order has its
  normal status at once.
- With `state.replace_oto_legs` False (the default), a leg of an `oto` order cannot be
  replaced ("Like bracket orders, order replacement is not supported yet", OTO orders in
  https://docs.alpaca.markets/docs/orders-at-alpaca); bracket legs can be replaced,
  the stop leg of a filled bracket too although it shows `held` (it stays armed).
- A partially filled order is replaced by one for what is left (unless a qty is
  given): the filled part stays with the old order. (Alpaca once re-used the full qty,
  alpacahq/Alpaca-API#165, a bug report; the emulator takes the documented meaning.)
- With `state.order_refusals`, sub-penny prices are refused as on submit (orders.py).
"""

from __future__ import annotations

import uuid
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING, Any

from bot.emulator.errors import UNPROCESSABLE, ApiError, invalid
from bot.emulator.lifecycle import pending_until
from bot.emulator.orders import PENDING, EmuOrder, OrderSpec, parse_replace
from bot.models import OrderType

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


def replace_order(state: EmulatorState, order_id: str, body: dict[str, Any]) -> EmuOrder:
    old = state.book.get(order_id)
    if not old.is_open:
        raise ApiError(422, UNPROCESSABLE, "order is not replaceable")
    strict = ("accepted", "pending_new") if state.strict_replace_status else ()
    if old.status in PENDING or old.status in strict:
        raise ApiError(422, UNPROCESSABLE, f"order is not replaceable in status {old.status}")
    parent = state.book.orders.get(old.parent_id or "")
    if not state.replace_oto_legs and parent is not None and parent.order_class == "oto":
        raise ApiError(422, UNPROCESSABLE, "replacing a leg of an oto order is not supported")
    rs = parse_replace(body, strict=state.order_refusals)
    if rs.limit_price is not None and old.type is not OrderType.LIMIT:
        raise invalid("limit_price can only be replaced on a limit order")
    if rs.stop_price is not None and old.type is not OrderType.STOP:
        raise invalid("stop_price can only be replaced on a stop order")
    if rs.client_order_id is not None and rs.client_order_id in state.book.by_client_id:
        raise invalid("client_order_id must be unique")
    tif = rs.time_in_force or old.time_in_force
    spec = OrderSpec(
        old.symbol,
        rs.qty or old.remaining,
        old.side,
        old.type,
        tif,
        old.order_class,
        rs.limit_price or old.limit_price,
        rs.stop_price or old.stop_price,
        extended_hours=old.extended_hours,
    )
    reserved = 0.0
    if old.holds:  # a leg waiting for its entry holds nothing
        reserved = state.check_funds(spec, state.quote(old.symbol), replacing=old)
    new = dc_replace(
        old,
        id=str(uuid.uuid4()),
        client_order_id=rs.client_order_id or old.client_order_id,
        qty=spec.qty,
        time_in_force=tif,
        limit_price=spec.limit_price,
        stop_price=spec.stop_price,
        created_at=state.now,
        updated_at=None,
        reserved=reserved,
        replaces=old.id,
        legs=list(old.legs),
        expires_at=(old.expires_at or state.day_close(old.symbol)) if tif == "day" else None,
        # What the old order filled stays with it; the new one starts unfilled.
        status="new" if old.status == "partially_filled" else old.status,
        filled_qty=0.0,
        filled_avg_price=None,
        filled_at=None,
        commission=0.0,
        elected=False,
    )
    latency = state.replace_latency_s
    state.book.supersede(old, new, state.now, pending_until(state, latency) if latency else None)
    return new
