"""What the engine does with what a live broker says: exits, protection, position checks.

- An exit is never larger than the broker's position and never crosses zero: the
  protective legs are cancelled first (and waited for: a leg may fill meanwhile), then
  the exit is capped at what the broker holds on the same side. A position closed at
  the broker by hand sends nothing.
- An exit the broker refuses never leaves the position unprotected in silence: the
  stop is put back (a stand-alone stop order) with an error event, and the exit is
  tried again on every later bar; if the stop cannot be put back either, entries are
  halted with an error event.
- The broker's position is compared with ours after every fill sync: a mismatch (a
  position closed or resized by hand) puts the trading state in REDUCING (no new entry)
  with one event naming both quantities and how to resolve it; it clears when they agree
  again. So does an exit refused whose stop cannot be put back either.
- An entry that ends without a fill (cancelled, expired, rejected, abandoned) is
  pending no more, so later signals may enter.
With a simulated broker (backtests, no `engine.live`) the position is not checked and
these steps cost nothing: SimBroker's cancels are immediate and its position is the engine's.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot import events as ev
from bot.broker.sim import BrokerError, DuplicateOrderError
from bot.engine.orderids import next_attempt, restored_stop_id
from bot.models import Bar, OrderIntent, OrderType, Rejection, Side

if TYPE_CHECKING:
    from bot.engine.core import Engine

LOG = logging.getLogger("bot.exits")
# Statuses in which an order is over, without (more) fills to come.
ENDED = frozenset({"filled", "canceled", "expired", "replaced", "rejected", "abandoned"})


def close_position(engine: Engine, intent: OrderIntent, bar: Bar) -> None:
    """Close the position: protection off, then an exit no larger than the broker holds;
    if the broker refuses it, the stop is put back and the exit retried next bar."""
    why = engine.check_order(intent, bar)
    if why is not None:
        engine.guard_refused(intent, why)  # protection stays in place
        return
    # The stop to put back if the exit is refused: the working one, or the one an
    # earlier refused exit could not put back (its leg may still be cancelling).
    stop = engine.stop_price if engine.stop_id is not None else engine.owed_stop
    # An entry still working (partly filled) would reopen what the exit closes.
    for o in engine.broker.open_orders():
        if o.parent is None and o.intent.purpose == "entry":
            engine.broker.cancel(o.intent.client_order_id)
    engine.cancel_protection()
    # A stop or take-profit may have filled while it was being cancelled.
    for f in engine.broker.sync(bar):
        engine.on_fill(f)
    qty = closable(engine, intent)
    if qty <= 0:
        engine.owed_exit = None
        if engine.portfolio.qty != 0:
            engine.reject(
                Rejection(intent.signal_ts, intent.client_order_id, "the broker holds nothing")
            )
        return
    if qty != intent.qty:
        LOG.warning(
            "exit %s reduced from %g to %g shares: what the broker holds",
            intent.client_order_id,
            intent.qty,
            qty,
        )
        intent = replace(intent, qty=qty)
    if engine.submit(intent, bar, checked=True):
        engine.owed_exit, engine.owed_stop = None, None
        engine.exit_id = intent.client_order_id
        return
    engine.owed_exit, engine.owed_stop = intent, stop
    _restore_protection(engine, intent, bar, stop)


def closable(engine: Engine, intent: OrderIntent) -> float:
    """Shares an exit may close: ours, capped by the broker's position on the same side."""
    ours = engine.portfolio.qty
    want = min(intent.qty, abs(ours))
    if engine.live is None:
        return want  # a simulated broker's position is ours
    theirs = engine.broker.position_qty()
    if theirs * ours <= 0:
        return 0.0  # flat at the broker, or the other side: an exit would open a position
    return min(want, abs(theirs))


def _restore_protection(
    engine: Engine, exit_intent: OrderIntent, bar: Bar, stop: float | None
) -> None:
    qty = closable(engine, exit_intent)
    why = f"exit {exit_intent.client_order_id} could not be placed"
    if stop is None or qty <= 0:
        failed = engine.trading.exit_failed = f"{why}; the position has no stop at the broker"
        engine.events.publish(
            ev.Error(
                where="exit",
                error=failed,
                retry="the exit is tried again on the next bar; new entries are halted",
            )
        )
        return
    side = Side.SELL if engine.portfolio.qty > 0 else Side.BUY
    cid = restored_stop_id(exit_intent.client_order_id, bar.ts)
    stop_order = OrderIntent(
        cid,
        engine.risk.symbol,
        side,
        qty,
        OrderType.STOP,
        stop_price=stop,
        purpose="stop",
        signal_ts=bar.ts,
        reason="protection put back after a refused exit",
    )
    try:
        engine.broker.place_stop(stop_order, engine.entry_id or exit_intent.client_order_id)
    except DuplicateOrderError:
        pass  # placed before a restart: the broker has it
    except BrokerError as exc:
        failed = engine.trading.exit_failed = f"{why} and its stop could not be put back: {exc}"
        engine.events.publish(
            ev.Error(
                where="exit",
                error=failed,
                resolve="close the position at the broker; new entries are halted",
            )
        )
        return
    engine.stop_id, engine.stop_price = cid, stop
    engine.events.publish(
        ev.Error(
            where="exit",
            error=f"{why}; the stop was put back at {stop:.2f}",
            retry="the exit is tried again on the next bar",
        )
    )


def retry_exit(engine: Engine, bar: Bar) -> None:
    owed = engine.owed_exit
    if owed is None or engine.portfolio.qty == 0:
        engine.owed_exit = None
        return
    engine.events.publish(ev.Order(client_order_id=owed.client_order_id, status="exit_retry"))
    close_position(engine, owed, bar)
    if engine.owed_exit is None:
        engine.trading.exit_failed = None


def exit_ended(engine: Engine) -> None:
    """An exit that ended with shares still held (partly filled, then expired or
    cancelled) is owed again: sent anew, under a new id, from the next bar."""
    cid = engine.exit_id
    if cid is None or engine.broker.order_status(cid) not in ENDED:
        return
    engine.exit_id = None
    if engine.portfolio.qty == 0 or engine.owed_exit is not None:
        return
    again = next_attempt(cid)  # an id is never reusable at Alpaca, even after a cancel
    side = Side.SELL if engine.portfolio.qty > 0 else Side.BUY
    engine.owed_exit = OrderIntent(
        again,
        engine.risk.symbol,
        side,
        abs(engine.portfolio.qty),
        purpose="exit",
        signal_ts=engine.last_bar.ts if engine.last_bar else 0,
        reason="the rest of an exit that ended part-filled",
    )
    engine.events.publish(ev.Order(client_order_id=cid, status="ended_part_filled", rest=again))


def entry_ended(engine: Engine) -> None:
    """An entry that ended without a fill is pending no more: later signals may enter."""
    cid = engine.pending_entry
    status = None if cid is None else engine.broker.order_status(cid)
    if cid is None or status not in ENDED:
        return
    engine.pending_entry = None
    if engine.portfolio.qty == 0:
        engine.entry_tag = engine.entry_reason = ""
    ended = ev.Order(client_order_id=cid, status=status, why="entry ended without a fill")
    engine.events.publish(ended)


def check_position(engine: Engine, bar: Bar) -> None:
    """The broker's position must equal ours; a mismatch blocks entries and says so once."""
    ours = engine.portfolio.qty
    theirs = engine.broker.position_qty()
    if abs(theirs - ours) > 1e-9:
        # A fill may have landed between reading the orders and reading the position.
        for f in engine.broker.sync(bar):
            engine.on_fill(f)
        ours, theirs = engine.portfolio.qty, engine.broker.position_qty()
    symbol, trading = engine.risk.symbol, engine.trading
    if abs(theirs - ours) <= 1e-9:
        if trading.mismatch is not None:
            trading.mismatch, trading.mismatch_gap = None, 0.0
            engine.events.publish(
                ev.PositionMismatch(symbol=symbol, broker_qty=theirs, local_qty=ours, resolved=True)
            )
        return
    why = (
        f"position mismatch for {symbol}: the broker holds {theirs:g} shares, "
        f"the bot's record says {ours:g}; new entries are halted"
    )
    # Said once per difference: an exit capped at the broker's position keeps the same
    # unexplained shares (broker 100 vs ours 149, then 0 vs 49) and is not news.
    gap = round(theirs - ours, 6)
    known = trading.mismatch is not None and gap == trading.mismatch_gap
    trading.mismatch, trading.mismatch_gap = why, gap
    if not known:
        engine.events.publish(
            ev.PositionMismatch(
                symbol=symbol,
                broker_qty=theirs,
                local_qty=ours,
                resolve="put the position back at the broker, or stop the bot and restart it "
                "with --adopt to take the broker's position as the truth",
            )
        )


__all__ = [
    "ENDED",
    "check_position",
    "closable",
    "close_position",
    "entry_ended",
    "exit_ended",
    "retry_exit",
]
