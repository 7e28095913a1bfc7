"""Start-up reconciliation: the bot never trusts its own memory over the broker.

On every start, before any decision: every order the state knows is settled with the
broker (an intent that never reached it is resent or abandoned), the broker's open
orders are compared with ours, and its position with the one rebuilt from our fills.
Anything the bot cannot explain stops it (`ReconcileError`, exit 4) with what differs
and how to resolve it, unless `--adopt` takes the broker's state as the truth.
Fills that happened while the bot was down are not booked here: the first sync books
them against the bar they belong to; they count for the position check.

First of all, the state must belong to this account: the newest order it sent is looked
up at the broker by its client order id. An account that does not know it (another
account's keys, a paper account reset at Alpaca, a new `bot emulator` process) would
otherwise be compared only by position, and a flat state meets a flat account: the bot
would report the old run's trades and equity as if they were this account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.models import Side

if TYPE_CHECKING:
    from bot.broker.live import LiveBroker

TERMINAL = {"filled", "canceled", "expired", "replaced", "rejected", "abandoned"}


class ReconcileError(Exception):
    """Local state and the broker disagree in a way the bot cannot explain."""


def check_same_account(broker: LiveBroker) -> None:
    """ReconcileError when the broker does not know the newest order this state sent."""
    # broker_id: the broker acknowledged it (an intent that never arrived has none)
    sent = [r for r in broker.store.orders() if r.parent is None and r.broker_id]
    if not sent:
        return
    cid = sent[-1].client_order_id
    api = broker.api
    if broker.read(lambda: api.by_client_id(cid), f"reading order {cid}") is not None:
        return
    raise ReconcileError(
        f"the broker does not know order {cid}, the newest one in {broker.store.path}: this "
        "state belongs to another account or another emulator (a paper account reset, other "
        "keys, a new `bot emulator`). Nothing was traded. Use a new --state-dir for this "
        "account, or replay from the start with --fresh (emulator replays)"
    )


@dataclass
class Reconciliation:
    broker_qty: float = 0.0
    broker_avg_price: float = 0.0
    notes: list[str] = field(default_factory=list)


def reconcile(
    broker: LiveBroker, local_qty: float, now_ts: int, adopt: bool = False
) -> Reconciliation:
    """Settle every order we know, compare with the broker, refuse what is unexplained."""
    store, api, symbol = broker.store, broker.api, broker.symbol
    result = Reconciliation()
    broker.last_ts = now_ts
    check_same_account(broker)
    for rec in store.orders(open_only=True):
        if rec.parent is None and broker.settle(rec.client_order_id) == "absent":
            # Recorded but never reached the broker (a crash before the send).
            broker.absent(rec)
            result.notes.append(f"order {rec.client_order_id} was not at the broker")
    unbooked = 0.0
    for rec in store.orders(open_only=True):
        if rec.status in ("intent", "unknown"):
            continue
        cid = rec.client_order_id
        order = broker.read(lambda cid=cid: api.by_client_id(cid), f"reading order {cid}")  # type: ignore[misc]
        if order is None:
            continue
        status = broker.status_of(rec.client_order_id, order)
        store.update_order(rec.client_order_id, status=status, broker_id=order.id)
        delta = order.filled_qty - rec.filled_qty
        if delta > 1e-9:
            unbooked += delta if rec.side is Side.BUY else -delta
    known = {r.client_order_id for r in store.orders()}
    known_ids = {r.broker_id for r in store.orders() if r.broker_id}
    problems: list[str] = []
    for o in broker.read(lambda: api.open_orders(symbol), "reading open orders"):
        for order in (o, *o.legs):
            if order.client_order_id in known or order.id in known_ids:
                continue
            if order.status in TERMINAL:
                continue
            if adopt:
                broker.adopt_foreign(order)
                result.notes.append(
                    f"adopted open order {order.client_order_id} ({order.side} {order.qty:g})"
                )
            else:
                problems.append(
                    "the broker has an open order the bot does not know: "
                    f"{order.client_order_id} ({order.side} {order.qty:g} {order.symbol}, "
                    f"{order.order_type}, {order.status})"
                )
    qty, avg = broker.read(lambda: api.position_qty(symbol), "reading the position")
    result.broker_qty, result.broker_avg_price = qty, avg
    booked = local_qty + unbooked
    if abs(qty - booked) > 1e-9:
        msg = (
            f"position mismatch for {symbol}: the broker holds {qty:g} shares, "
            f"the bot's record says {booked:g}"
        )
        if adopt:
            result.notes.append(msg + "; adopting the broker's position")
        else:
            problems.append(msg)
    if problems:
        raise ReconcileError(
            "; ".join(problems)
            + ". Trading is stopped. Resolve it at the broker (cancel the order or close the "
            "position) or restart with --adopt to take the broker's state as the truth."
        )
    return result


__all__ = ["TERMINAL", "ReconcileError", "Reconciliation", "check_same_account", "reconcile"]
