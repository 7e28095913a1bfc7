"""Crash-only start of an engine on a broker account: one recovery path, every start.

`recover(engine, now_ts, adopt)`, after the warm-up and before the first traded bar:
1. position, cash and trades are rebuilt from the fills the bot recorded (`Book`, read
   through the broker adapter that wrote them), with the reasons and tags of its orders;
   the working entry is found among the open orders (the protective stop is found by
   the fill that opened the position); each session's orders are counted again for the
   `max_orders_per_day` guard;
2. the broker reconciles (bot/live/reconcile.py): every order in doubt settled, orders and
   position compared, anything unexplained refused unless `adopt`;
3. an entry the broker never got, or that ended meanwhile, is pending no more; with
   `adopt` the broker's position becomes ours.
Imports the broker interface, models and event types; never alpaca-py or the state store
(the broker adapter reads what it recorded); the engine is passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import events as ev
from bot.broker.sim import AccountBroker, Book, OrderState
from bot.models import Fill, Side

if TYPE_CHECKING:
    from bot.engine.core import Engine
    from bot.live.reconcile import Reconciliation


def recover(engine: Engine, now_ts: int, adopt: bool = False) -> Reconciliation:
    broker = engine.broker
    if not isinstance(broker, AccountBroker):
        raise TypeError(f"{type(broker).__name__} has no account to reconcile with")
    book = broker.recorded()
    restore(engine, book, broker.open_orders())
    for intent in book.sent:
        engine.trading.count(intent)
    rec = broker.reconcile(engine.portfolio.qty, now_ts, adopt=adopt)
    # The pending entry was restored from the orders open before reconciling; one that
    # the broker never got (abandoned) or that ended meanwhile is pending no more.
    still_open = {o.intent.client_order_id for o in broker.open_orders()}
    if engine.pending_entry is not None and engine.pending_entry not in still_open:
        engine.pending_entry = None
        if engine.portfolio.qty == 0:
            engine.entry_tag = engine.entry_reason = ""
    if adopt and abs(rec.broker_qty - engine.portfolio.qty) > 1e-9:
        adopt_position(engine, rec.broker_qty, rec.broker_avg_price, now_ts)
    engine.events.publish(
        ev.Reconcile(
            broker_qty=rec.broker_qty, local_qty=engine.portfolio.qty, notes=tuple(rec.notes)
        )
    )
    return rec


def restore(engine: Engine, book: Book, open_orders: list[OrderState]) -> None:
    """Rebuild position, cash and trades from the recorded fills; open orders give the
    pending entry."""
    by_id = {i.client_order_id: i for i in book.orders}
    engine.reasons.update({i.client_order_id: i.reason for i in book.orders})
    for f in book.fills:
        intent = by_id.get(f.client_order_id)
        if engine.portfolio.qty == 0 and intent is not None:
            engine.entry_tag, engine.entry_reason = intent.level, intent.reason
        engine.on_fill(f, quiet=True)
    for o in open_orders:
        if o.parent is None and o.intent.purpose == "entry":
            engine.pending_entry = o.intent.client_order_id
            engine.entry_tag, engine.entry_reason = o.intent.level, o.intent.reason


def adopt_position(engine: Engine, qty: float, avg_price: float, ts: int) -> None:
    """Take the broker's position as ours (explicit --adopt after a mismatch)."""
    held = engine.portfolio.qty
    side = Side.BUY if qty > held else Side.SELL
    delta = abs(qty - held)
    if delta > 0:
        adopted = Fill("adopted", side, delta, avg_price, ts, 0.0, "adopted", engine.symbol)
        engine.on_fill(adopted)
        engine.entry_tag = engine.entry_tag or "adopted"


__all__ = ["adopt_position", "recover", "restore"]
