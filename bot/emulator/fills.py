"""Executing an order at a bar, whole or in part, and what a fill does to its group.

Partial fills (`state.partial_fill_rate`, 0.1 by default; 0 turns them off). Alpaca's
paper trading: "When orders are eligible to be filled, they will receive partial fills
for a random size 10% of the time. If the order price is still marketable, the remaining
quantity would be re-evaluated for a subsequent fill"
(https://docs.alpaca.markets/docs/paper-trading, rules and assumptions). Here each time
an order with more than one share left would fill at a bar, a seeded draw
(`state.partial_fill_seed`, one `random.Random` restarted by every reset, drawn in
matching order, so a replay is reproducible) decides: with probability
`partial_fill_rate` only floor(U(0.2, 0.8) x what is left) shares fill (at least 1, never
all), and the order is `partially_filled`. The rest meets later bars only, each at most
once per bar, by the same rules (bot/broker/matching.py): a market order at the next open, a
limit when the bar reaches it; a stop that has traded is elected, i.e. a market order
from then on ("Once the order is elected, the stop order becomes a market order",
https://docs.alpaca.markets/docs/orders-at-alpaca, stop orders), so its rest fills at
the next open. `filled_avg_price` is the qty-weighted average of the fills, commission
is charged per fill, and an open buy keeps the buying power of what is left.

What a fill does to the rest of its group
(https://docs.alpaca.markets/docs/orders-at-alpaca, bracket orders):
- the legs of a bracket/OTO entry wait (`held`) until the entry is COMPLETELY filled
  ("The second and third orders won't be active until the first order is completely
  filled"); an entry that ends partially filled (canceled, expired) takes its legs along;
- then the take-profit goes `new`; with `state.held_stop_leg` the stop-loss stays
  `held`, armed: Alpaca watches the stop itself and routes it when triggered
  (https://forum.alpaca.markets/t/bracket-order-exit-trades-not-executing/3697: "the
  take profit limit order leg is set to new and the stop loss leg remains held"); off
  (the default for now, see bot/emulator/knobs.py), both go `new`;
- a filled leg cancels its OCO sibling; a partial fill of one resizes the other to what
  is left ("If the take-profit order is partially filled, the stop-loss order will be
  adjusted to the remaining quantity"), and the other way round.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.broker.matching import commission, with_slippage
from bot.emulator.jsonfmt import utc_iso
from bot.emulator.model import EmuOrder
from bot.models import Bar, Fill, OrderType, et_to_ns

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

_EPS = 1e-9


def fill_qty(state: EmulatorState, order: EmuOrder) -> float:
    """How many shares fill now: all that is left, or a seeded part of it."""
    left = order.remaining
    if left <= 1 + _EPS or state.partial_fill_rate <= 0:
        return left
    rng = state.partial_rng
    if rng.random() >= state.partial_fill_rate:
        return left
    part = math.floor(left * rng.uniform(0.2, 0.8))
    return float(min(max(part, 1), math.ceil(left) - 1))


def execute(
    state: EmulatorState, order: EmuOrder, raw: float, bar: Bar, when: datetime
) -> dict[str, Any]:
    """Fill `order` (or part of it) at the raw trigger price `raw`, book it, and return
    the fill record kept in `state.fills`."""
    qty = fill_qty(state, order)
    price = with_slippage(raw, order.side, order.type, state.slippage_bps)
    fee = commission(qty, state.commission_per_share, state.commission_min)
    state.account.apply(
        order.symbol,
        Fill(order.client_order_id, order.side, qty, price, bar.ts, fee, symbol=order.symbol),
    )
    before, avg = order.filled_qty, order.filled_avg_price or 0.0
    order.filled_qty = before + qty
    order.filled_avg_price = (before * avg + qty * price) / order.filled_qty
    order.commission += fee
    order.elected = order.elected or order.type is OrderType.STOP
    if order.remaining <= _EPS:
        state.book.set_status(order, "filled", when)
    else:
        # The part still open keeps its share of the buying power it held.
        order.reserved *= order.remaining / (order.remaining + qty)
        state.book.set_status(order, "partially_filled", when)
    _settle_sibling(state, order, when)
    fill = {
        "id": str(uuid.uuid4()),
        "order_id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": str(order.side),
        "type": str(order.type),
        "qty": qty,
        "price": price,
        "commission": fee,
        "time": utc_iso(when),
        "parent_id": order.parent_id,
        "position_qty": state.account.qty(order.symbol),
        "order_status": order.status,
    }
    state.fills.append(fill)
    return fill


def _settle_sibling(state: EmulatorState, order: EmuOrder, when: datetime) -> None:
    """The OCO sibling of a filled order is canceled; of a partly filled one, resized to
    close what is left (qty = its own filled qty + what `order` has left)."""
    if order.sibling_id is None:
        return
    sibling = state.book.orders[order.sibling_id]
    if not sibling.is_open:
        return
    if order.status == "filled":
        state.book.set_status(sibling, "canceled", when)
    else:
        sibling.qty = sibling.filled_qty + order.remaining
        sibling.updated_at = when


def activate_legs(state: EmulatorState, parent: EmuOrder, when: datetime) -> list[EmuOrder]:
    """The legs of a completely filled entry go live (the stop leg first: it was placed
    first); nothing happens while the entry is only partially filled."""
    if parent.status != "filled":
        return []
    legs = [state.book.orders[i] for i in parent.legs]
    live = [leg for leg in legs if leg.status == "held" and not leg.armed]
    for leg in live:
        leg.routes_at = et_to_ns(when)
        if leg.type is OrderType.STOP and state.held_stop_leg:
            leg.armed, leg.updated_at = True, when  # shown `held`, watched by the broker
        else:
            state.book.set_status(leg, "new", when)
    return sorted(live, key=lambda o: o.seq)
