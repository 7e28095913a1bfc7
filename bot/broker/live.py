"""LiveBroker: the Broker protocol on a real (or emulated) Alpaca account.

It answers the engine from the state store and the broker, and leaves the two hard
parts to its helpers:
- `OrderSender` (bot.broker.sending) gets orders to the broker at most once and never
  lost, whatever the network does, and waits cancels out;
- `OrderLedger` (bot.broker.ledger) records what the broker answers, and books each
  fill once (fill ids are order id + cumulative quantity), so a re-poll or a restart
  never double-counts.
Reads go through the one retry path (bot/live/retry.py). A refused stop replace is
`bot.broker.protection`'s, the start-up reconciliation `bot.live.reconcile`'s. This
module knows nothing of HTTP or alpaca-py: it drives `bot.alpaca.trading.AlpacaApi`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from bot import events as ev
from bot.alpaca.orders import BrokerOrder
from bot.alpaca.stream import StreamEvent
from bot.broker.ledger import OrderLedger
from bot.broker.protection import replace_refused
from bot.broker.sending import OrderSender
from bot.broker.sim import Book, BrokerError, OrderState
from bot.engine.orderids import moved_stop_id
from bot.events.sinks import Publisher
from bot.live.reconcile import ReconcileError, Reconciliation, reconcile
from bot.live.retry import Retrier
from bot.models import Bar, Fill, OrderIntent
from bot.store.records import OrderRecord
from bot.store.state import StateStore

_NO_FILLS: list[Fill] = []
T = TypeVar("T")


class Api(Protocol):
    """The broker calls LiveBroker makes: `AlpacaApi`, or a test's fake."""

    def submit(self, intent: OrderIntent) -> BrokerOrder: ...
    def by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...
    def account(self) -> dict[str, Any]: ...
    def clock(self) -> dict[str, Any]: ...
    def open_orders(self, symbol: str) -> list[BrokerOrder]: ...
    def cancel(self, order_id: str) -> None: ...
    def replace_stop(
        self, order_id: str, stop_price: float, client_order_id: str
    ) -> BrokerOrder: ...
    def position_qty(self, symbol: str) -> tuple[float, float]: ...


class LiveBroker:
    """The Broker protocol on an Alpaca account (see the module doc)."""

    def __init__(
        self,
        api: Api,
        store: StateStore,
        symbol: str,
        events: Publisher | None = None,
        settle_lookups: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 60.0,
        max_send_attempts: int = 6,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        retrier: Retrier | None = None,
        cancel_wait_s: float = 15.0,
    ) -> None:
        self.api = api
        self.store = store
        self.symbol = symbol
        # Its order statuses and refusals say the symbol (one broker per symbol's engine).
        self.events = (events if events is not None else Publisher()).for_symbol(symbol)
        if retrier is None:
            retrier = Retrier(backoff_base_s, backoff_cap_s, self.events, clock=clock, seed=seed)
            if sleep is not None:
                retrier.sleep = sleep
        self.retrier = retrier
        self.ledger = OrderLedger(store, symbol, self.events)
        self.sender = OrderSender(
            api,
            store,
            self.events,
            retrier,
            self.ledger,
            settle_lookups=settle_lookups,
            max_send_attempts=max_send_attempts,
            cancel_wait_s=cancel_wait_s,
        )
        self.last_ts: int | None = None  # the last bar synced (for stale intents)

    # -- Broker protocol -----------------------------------------------------------
    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        self.store.record_intent(intent, level=intent.level)
        self.sender.send(intent)
        return []

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Read back every open order; return the fills that happened since last time."""
        open_recs = self.store.orders(open_only=True)
        if not open_recs:
            self.last_ts = bar.ts
            return _NO_FILLS
        fills: list[Fill] = []
        for rec in open_recs:
            if rec.parent is not None:
                continue  # children are refreshed through their parent (nested legs)
            if rec.status in ("intent", "unknown"):
                outcome = self.settle(rec.client_order_id)
                if outcome == "absent":
                    self.absent(rec)
                if outcome != "placed":
                    continue
            fills.extend(self._refresh(rec.client_order_id, bar.ts))
        for rec in self.store.orders(open_only=True):
            if rec.parent is not None and self.ledger.parent_terminal(rec):
                fills.extend(self._refresh(rec.client_order_id, bar.ts))
        self.last_ts = bar.ts
        return fills

    def sync(self, bar: Bar) -> list[Fill]:
        return self.on_bar(bar)  # idempotent: fills are booked once by their ids

    def order_status(self, client_order_id: str) -> str | None:
        rec = self.store.get_order(client_order_id)
        return None if rec is None else rec.status

    def absent(self, rec: OrderRecord) -> None:
        """An order in doubt that the broker says it never received.

        Exits are always sent again (same id, so still at most once): a position must be
        able to close. An entry is sent again only while its signal is the latest bar's;
        an older one is abandoned rather than bought late at a price the rules never saw.
        """
        fresh = self.last_ts is None or rec.signal_ts >= self.last_ts
        if rec.purpose != "entry" or fresh:
            resend = ev.Order(client_order_id=rec.client_order_id, status="resend", why="absent")
            self.events.publish(resend)
            with contextlib.suppress(BrokerError):  # a refusal is recorded as rejected by send
                self.sender.send(rec.intent())
            return
        self.store.update_order(rec.client_order_id, status="abandoned")
        self.events.publish(
            ev.Order(
                client_order_id=rec.client_order_id,
                status="abandoned",
                why="never reached the broker and its signal is stale",
            )
        )

    def cancel(self, client_order_id: str) -> str:
        """Cancel and wait (bounded) until the broker says the order is done.

        Returns the final status: "canceled", or "fill_pending"/"filled" when it filled
        first (the next sync books that fill), or the pending status if the broker is
        still cancelling after `cancel_wait_s`."""
        rec = self.store.get_order(client_order_id)
        if rec is None or rec.broker_id is None or not rec.is_open:
            return "unknown" if rec is None else rec.status
        broker_id = rec.broker_id
        try:
            self.read(lambda: self.api.cancel(broker_id), f"cancelling {client_order_id}")
        except BrokerError as exc:
            # 422 "not cancelable": it filled, expired or is being cancelled already.
            self.events.publish(
                ev.Order(client_order_id=client_order_id, status="cancel_refused", error=str(exc))
            )
        status = self.sender.await_terminal(client_order_id)
        self.events.publish(ev.Order(client_order_id=client_order_id, status=status, how="cancel"))
        return status

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        """A stand-alone protective stop (or OCO pair) for the position `parent` opened."""
        self.store.record_intent(intent, parent=parent)
        self.sender.send(intent)

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        """Move a protective stop; returns the id of the live stop afterwards.

        Alpaca refuses to replace an order that is `accepted` or pending, and replacing
        an OTO leg is not supported (https://docs.alpaca.markets/reference/
        patchorderbyorderid-1, https://docs.alpaca.markets/docs/orders-at-alpaca). On a
        refusal the leg is read back: if it is done, the next sync books it; if it is
        pending, the move is tried again on the next bar; otherwise the stop is moved
        by cancelling it and placing a new one (with the take-profit, as an OCO pair,
        if one was working)."""
        rec = self.store.get_order(client_order_id)
        if rec is None or rec.broker_id is None:
            return client_order_id
        family = rec.parent or client_order_id
        new_id = self._next_stop_id(family)
        broker_id = rec.broker_id
        try:
            order = self.read(
                lambda: self.api.replace_stop(broker_id, stop_price, new_id),
                f"replacing {client_order_id}",
            )
        except BrokerError as exc:
            return replace_refused(self, rec, stop_price, new_id, exc)
        self.store.update_order(client_order_id, status="replaced")
        self.ledger.track_leg(family, order)
        return order.client_order_id

    def open_orders(self) -> list[OrderState]:
        return [
            OrderState(r.intent(), status=r.status, filled_qty=r.filled_qty, parent=r.parent)
            for r in self.store.orders(open_only=True)
        ]

    def position_qty(self) -> float:
        return self.read(lambda: self.api.position_qty(self.symbol), "reading the position")[0]

    def entry_block(self) -> str | None:
        doubt = [
            r.client_order_id for r in self.store.orders(open_only=True) if r.status == "unknown"
        ]
        return f"order(s) in doubt at the broker: {', '.join(doubt)}" if doubt else None

    def recorded(self) -> Book:
        """The orders and fills in the state store (a restart rebuilds the engine from them)."""
        records = self.store.orders()
        sent = [r.intent() for r in records if r.parent is None and r.purpose != "adopted"]
        return Book(self.store.fills(), [r.intent() for r in records], sent)

    def reconcile(self, local_qty: float, now_ts: int, adopt: bool = False) -> Reconciliation:
        return reconcile(self, local_qty, now_ts, adopt)

    def clock(self) -> dict[str, Any]:
        """The broker's clock: now, is_open, next open/close."""
        return self.read(self.api.clock, "reading the broker clock")

    def account(self) -> dict[str, float | str]:
        """The broker account (cash, equity); wrong keys fail here with a 401."""
        return self.read(self.api.account, "reading the account")

    def read(self, fn: Callable[[], T], what: str = "broker call") -> T:
        """A call that is safe to repeat, through the one retry path."""
        return self.retrier.call(fn, what)

    # -- the helpers' answers (called by reconcile, protection and the stream) ------
    def settle(self, cid: str) -> str:
        """Ask the broker for the order: 'placed', 'absent' or 'unknown' (still in doubt)."""
        return self.sender.settle(cid)

    def status_of(self, cid: str, order: BrokerOrder) -> str:
        """The broker's status, or "fill_pending" while it filled more than we booked."""
        return self.ledger.status_of(cid, order)

    def adopt_foreign(self, order: BrokerOrder) -> None:
        self.ledger.adopt_foreign(order)

    def apply_update(self, update: StreamEvent, ts: int) -> list[Fill]:
        """A trade update pushed by the broker, booked with its legs at the session bar `ts`."""
        return self.ledger.apply_update(update, ts)

    # -- reading back ----------------------------------------------------------------
    def _refresh(self, cid: str, ts: int) -> list[Fill]:
        order = self.read(lambda: self.api.by_client_id(cid), f"reading order {cid}")
        if order is None:
            return []
        return self.ledger.book_with_legs(cid, order, ts)

    def _next_stop_id(self, family: str) -> str:
        n = len([r for r in self.store.orders() if r.parent == family and r.purpose == "stop"])
        return moved_stop_id(family, n)


__all__ = ["LiveBroker", "ReconcileError", "Reconciliation"]
