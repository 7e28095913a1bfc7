"""Creating orders (`POST /v2/orders`): checks against the account, then the order and
its legs.

- simple: one order.
- bracket / oto: the entry, and its exit legs (stop-loss, take-profit) `held` until the
  entry fills; the two legs of a bracket are an OCO pair.
- oco: the exit of a position already held, as Alpaca documents it
  (https://docs.alpaca.markets/docs/orders-at-alpaca, OCO orders): the response is the
  take-profit limit order with `order_class: oco`, the stop-loss is its one leg (shown
  with nested=true). Both work at once (each `new`, or `accepted` until the next open
  like any order received while the market is closed); when one fills the other is
  canceled, and cancelling the parent cancels both. The pair holds its qty once.
  `stop_loss.limit_price` (a stop-limit leg) is refused as unsupported.

When a stop and a take-profit of one pair meet the same bar, neither at the open, the
stop fills: the emulator checks it first (as SimBroker does, see bot/emulator/replay.py).
"""

from __future__ import annotations

import uuid
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING, Any

from bot.emulator.checks import check_advanced
from bot.emulator.errors import invalid
from bot.emulator.orders import EmuOrder, OrderSpec, parse_order
from bot.models import OrderType, Side

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


def submit_order(state: EmulatorState, body: dict[str, Any]) -> EmuOrder:
    """Validate like Alpaca, then create (and keep) the order."""
    spec = parse_order(body, strict=state.order_refusals)
    if spec.symbol not in state.market.tracks:
        raise invalid(f'could not find asset "{spec.symbol}"')
    if spec.client_order_id is not None and spec.client_order_id in state.book.by_client_id:
        raise invalid("client_order_id must be unique")
    quote = state.quote(spec.symbol)
    held = state.account.qty(spec.symbol)
    if spec.order_class != "simple":
        check_advanced(spec, quote, held, state.order_refusals)
    reserved = state.check_funds(spec, quote)
    cid = spec.client_order_id or str(uuid.uuid4())
    close = state.day_close(spec.symbol, market_order=spec.type is OrderType.MARKET)
    book = state.book
    parent = book.create(spec, cid, state.now, state.calendar, held, close, reserved)
    book.created_per_client_id[cid] += 1
    if spec.order_class == "oco":
        _oco_leg(state, spec, parent, held, close)
        return parent
    exit_side = Side.SELL if spec.side is Side.BUY else Side.BUY
    # The stop leg is created first: when a stop and a take-profit meet the same bar,
    # placement order breaks the tie and the stop fills (as in SimBroker).
    for otype, price in ((OrderType.STOP, spec.stop_loss), (OrderType.LIMIT, spec.take_profit)):
        if price is None:
            continue
        leg_spec = dc_replace(
            spec,
            side=exit_side,
            type=otype,
            limit_price=price if otype is OrderType.LIMIT else None,
            stop_price=price if otype is OrderType.STOP else None,
        )
        leg_cid = str(uuid.uuid4())  # Alpaca names legs itself
        leg = book.create(leg_spec, leg_cid, state.now, state.calendar, held, close, parent=parent)
        parent.legs.append(leg.id)
    if len(parent.legs) == 2:
        a, b = (book.orders[i] for i in parent.legs)
        a.sibling_id, b.sibling_id = b.id, a.id
    return parent


def _oco_leg(
    state: EmulatorState, spec: OrderSpec, parent: EmuOrder, held: float, close: int
) -> None:
    """The stop-loss half of an oco order: same side as the parent, working like it."""
    leg_spec = dc_replace(spec, type=OrderType.STOP, limit_price=None, stop_price=spec.stop_loss)
    book = state.book
    leg = book.create(
        leg_spec, str(uuid.uuid4()), state.now, state.calendar, held, close, parent=parent
    )
    leg.status, leg.routes_at = parent.status, parent.routes_at  # not held: it works now
    parent.legs.append(leg.id)
    parent.sibling_id, leg.sibling_id = leg.id, parent.id
    # Matching goes through the open orders in book order: put the stop ahead of its
    # take-profit (the stop-first tie-break of brackets and SimBroker).
    del book.open_ids[parent.id]
    book.open_ids[parent.id] = None
