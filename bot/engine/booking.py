"""Booking a fill into the engine: position, cash and trades, and the state around them.

A fill that opens a position records the order that opened it, finds its protective
stop at the broker and starts the trailing extreme; a fill that closes it clears the
entry, the stop and whatever exit was owed. A closed trade carries the reason of the
signal that opened it and of what closed it (the exit signal, a stop, a take-profit).
Replaying recorded fills on start-up (`quiet`) books them without journalling them again.
Imports models, the broker's order view and event types; the engine is passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import events as ev
from bot.broker.sim import OrderState
from bot.models import Fill

if TYPE_CHECKING:
    from bot.engine.core import Engine


def on_fill(engine: Engine, fill: Fill, quiet: bool = False) -> None:
    engine.record.fills.append(fill)
    p = engine.portfolio
    opening = p.qty == 0
    reason = engine.entry_reason if opening else _exit_reason(engine, fill)
    trade = p.apply(fill, reason=reason, level=engine.entry_tag)
    if quiet:  # replaying recorded fills on start-up: already journalled
        _after_fill(engine, fill, opening)
        return
    engine.events.publish(ev.Fill.of(fill, p.qty))
    _after_fill(engine, fill, opening)
    if trade is not None:
        engine.events.publish(ev.Trade.of(trade))


def _after_fill(engine: Engine, fill: Fill, opening: bool) -> None:
    p = engine.portfolio
    if fill.client_order_id == engine.pending_entry:
        engine.pending_entry = None
    if opening and p.qty != 0:
        engine.entry_id = fill.client_order_id
        stop = _protective_stop(engine, fill.client_order_id)
        engine.stop_id = None if stop is None else stop.intent.client_order_id
        engine.stop_price = 0.0 if stop is None else (stop.intent.stop_price or 0.0)
        engine.extreme = fill.price
    if p.qty == 0:
        engine.stop_id = None
        engine.entry_tag = ""
        engine.entry_reason = ""
        engine.entry_id = ""
        engine.owed_exit = engine.owed_stop = None
        engine.exit_id = None


def _exit_reason(engine: Engine, fill: Fill) -> str:
    if fill.purpose == "stop":
        return f"stop hit at {fill.price:.2f}"
    if fill.purpose in ("take_profit", "oco"):
        return f"take-profit hit at {fill.price:.2f}"
    return engine.reasons.get(fill.client_order_id, fill.purpose)


def _protective_stop(engine: Engine, parent: str) -> OrderState | None:
    for o in engine.broker.open_orders():
        if o.parent == parent and o.intent.purpose == "stop":
            return o
    return None


__all__ = ["on_fill"]
