"""Moving a protective stop when Alpaca refuses to replace it.

Alpaca refuses to replace an order that is `accepted` or pending, and replacing an OTO
leg is not supported (https://docs.alpaca.markets/reference/patchorderbyorderid-1,
https://docs.alpaca.markets/docs/orders-at-alpaca). On a refusal the leg is read back:
- done (filled, cancelled) meanwhile: nothing to move; the next sync books it;
- pending: the move is tried again on the next bar;
- otherwise the stop is moved by cancelling it (and a working take-profit, which holds
  the same shares) and placing a new stop, or an OCO pair of take-profit and stop.
The runner never stops on such a refusal. Used by `LiveBroker.replace_stop`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import events as ev
from bot.broker.sim import BrokerError
from bot.engine.orderids import oco_id
from bot.live.reconcile import TERMINAL
from bot.models import OrderIntent, OrderType, Side
from bot.store.records import OrderRecord

if TYPE_CHECKING:
    from bot.broker.live import LiveBroker

LOG = logging.getLogger("bot.protection")
PENDING = {"accepted", "pending_new", "pending_cancel", "pending_replace", "held"}


def replace_refused(
    broker: LiveBroker, rec: OrderRecord, stop_price: float, new_id: str, exc: BrokerError
) -> str:
    """The id of the live stop after a refused replace of `rec` (see the module doc)."""
    cid = rec.client_order_id
    leg = broker.read(lambda: broker.api.by_client_id(cid), f"reading order {cid}")
    if leg is None or leg.status in TERMINAL:
        if leg is not None:
            broker.store.update_order(cid, status=broker.status_of(cid, leg))
        return cid  # filled or gone meanwhile: the next sync books it
    parent = broker.store.get_order(rec.parent or "")
    armed = leg.status == "held" and parent is not None and parent.status == "filled"
    # A stop leg shows `held` at Alpaca also once its entry has filled (it is triggered
    # internally): that one is working, not waiting, and is moved by cancel + new stop.
    if leg.status in PENDING and not armed:
        broker.events.publish(
            ev.Order(
                client_order_id=cid,
                status="replace_deferred",
                broker_status=leg.status,
                error=exc.message,
            )
        )
        return cid  # try again on the next bar
    LOG.warning(
        "replace of stop %s refused (%s): cancelling it and placing a new stop", cid, exc.message
    )
    broker.events.publish(
        ev.Order(
            client_order_id=cid,
            status="replace_refused",
            fallback="cancel and new stop",
            error=exc.message,
        )
    )
    family = rec.parent or cid
    take = [
        r for r in broker.store.orders(open_only=True)
        if r.parent == family and r.purpose == "take_profit"
    ]  # fmt: skip
    for r in [rec, *take]:
        if broker.cancel(r.client_order_id) in ("filled", "fill_pending"):
            return cid  # a leg filled while cancelling: the position changed
    qty = abs(broker.position_qty())
    if qty == 0:
        return cid
    side = Side.SELL if rec.side is Side.SELL else Side.BUY
    tp = take[0].limit_price if take else None
    intent = OrderIntent(
        new_id if tp is None else oco_id(new_id),
        broker.symbol,
        side,
        qty,
        OrderType.LIMIT if tp is not None else OrderType.STOP,
        limit_price=tp,
        stop_price=None if tp is not None else stop_price,
        purpose="stop" if tp is None else "oco",
        stop_loss=stop_price if tp is not None else None,
        take_profit=tp,
    )
    try:
        broker.place_stop(intent, family)
    except BrokerError as refused:
        broker.events.publish(
            ev.Error(
                where="trailing stop",
                error=f"the stop {cid} was cancelled to move it, and its replacement was "
                f"refused: {refused}; the position has no stop at the broker",
            )
        )
        return cid
    if tp is None:
        return intent.client_order_id
    # the OCO's stop leg is the one to trail from now on
    for r in broker.store.orders(open_only=True):
        if r.parent == family and r.purpose == "stop":
            return r.client_order_id
    return intent.client_order_id


__all__ = ["PENDING", "replace_refused"]
