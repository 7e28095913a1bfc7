"""LiveBroker: the Broker protocol on a real (or emulated) Alpaca account.

The rules that make orders safe, whatever the network does:
- the intent is written to the state store before anything is sent;
- every order carries its deterministic client order id, so any resend of it is
  harmless: Alpaca answers 422 "client_order_id must be unique" and the existing
  order is adopted;
- a 429 means the request was refused before it was processed: wait (honouring
  X-RateLimit-Reset, else exponential backoff with jitter) and resend;
- a 5xx, a time-out or a dropped connection leaves the order *in doubt*: it is settled
  by looking it up by client order id (a few tries with backoff) and only resent, with
  the same id, once the broker says it does not have it. While an order stays in doubt
  no new entry is allowed;
- definitive refusals (403, 404, 422) are logged with Alpaca's code and message and
  never retried, except a sell refused because orders being cancelled still hold the
  shares (403 with `held_for_orders`): that one was not created, so it is resent with
  the same id once the cancel is through;
- a cancel is only done when the broker says so: Alpaca answers DELETE with 204 on
  *acceptance* and the order may sit in `pending_cancel`, still holding its shares
  (https://docs.alpaca.markets/reference/deleteorderbyorderid). The order is read back
  until it is terminal (bounded).
Reads go through the one retry path (bot/live/retry.py). Fills are read back from the
broker and booked once each (fill ids are order id + cumulative quantity), so a
re-poll or a restart never double-counts. This module knows nothing of HTTP or
alpaca-py: it drives `bot.alpaca.trading.AlpacaApi`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from bot import events as ev
from bot.alpaca.trading import BrokerOrder, StreamEvent
from bot.broker.protection import replace_refused
from bot.broker.sim import Book, BrokerError, DuplicateOrderError, InDoubt, OrderState, Transient
from bot.engine.orderids import moved_stop_id
from bot.events.sinks import Publisher
from bot.live.reconcile import TERMINAL, ReconcileError, Reconciliation, reconcile
from bot.live.retry import Retrier
from bot.models import Bar, Fill, OrderIntent, OrderType, Side
from bot.store.state import OrderRecord, StateStore

LOG = logging.getLogger("bot.execution")
_NO_FILLS: list[Fill] = []
# Orders that sell (or buy back) shares the account holds: a 403 "held for orders" on
# them is a cancel still in flight, worth waiting out.
_CLOSING = {"exit", "flatten", "stop", "take_profit", "oco"}
T = TypeVar("T")


class Api(Protocol):
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
        self.settle_lookups = settle_lookups
        self.max_send_attempts = max_send_attempts
        self.cancel_wait_s = cancel_wait_s  # how long a pending cancel is waited for
        if retrier is None:
            retrier = Retrier(backoff_base_s, backoff_cap_s, self.events, clock=clock, seed=seed)
            if sleep is not None:
                retrier.sleep = sleep
        self.retrier = retrier
        self.last_ts: int | None = None  # the last bar synced (for stale intents)

    # -- Broker protocol -----------------------------------------------------------
    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        self.store.record_intent(intent, level=intent.level)
        self._send(intent)
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
            if rec.parent is not None and self._parent_terminal(rec):
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
            with contextlib.suppress(BrokerError):  # a refusal is recorded as rejected by _send
                self._send(rec.intent())
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
        status = self._await_terminal(client_order_id)
        self.events.publish(ev.Order(client_order_id=client_order_id, status=status, how="cancel"))
        return status

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        """A stand-alone protective stop (or OCO pair) for the position `parent` opened."""
        self.store.record_intent(intent, parent=parent)
        self._send(intent)

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
        self._track_child(family, order)
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

    # -- sending -------------------------------------------------------------------
    def _send(self, intent: OrderIntent) -> None:
        cid = intent.client_order_id
        attempts = 0
        held = self._patience()
        while attempts < self.max_send_attempts:
            attempts += 1
            try:
                order = self.api.submit(intent)
            except DuplicateOrderError:
                # Already placed (a retry that raced, or a restart): adopt, never re-place.
                self.events.publish(ev.Order(client_order_id=cid, status="exists_adopted"))
                self.settle(cid)
                return
            except BrokerError as exc:
                if exc.held_by_orders and intent.purpose in _CLOSING:
                    # Not created: the shares are still held by an order being cancelled.
                    pause = next(held, None)
                    if pause is not None:
                        attempts -= 1
                        why = f"{cid}: shares held by orders being cancelled"
                        self.events.publish(ev.Retry(why=why, wait_s=round(pause, 3)))
                        self.retrier.sleep(pause)
                        continue
                self._refused(cid, exc)
                raise
            except Transient as exc:
                if exc.status == 429:
                    self._wait(attempts, exc.reset_at, f"429 on order {cid}")
                    continue
                if self._in_doubt(cid, f"HTTP {exc.status}") != "absent":
                    return
                continue
            except InDoubt as exc:
                if self._in_doubt(cid, str(exc)) != "absent":
                    return
                continue
            self._adopt(cid, order, "submitted")
            return
        self.store.update_order(cid, status="unknown")
        exhausted = ev.Order(client_order_id=cid, status="unknown", why="send attempts exhausted")
        self.events.publish(exhausted)

    def _refused(self, cid: str, exc: BrokerError) -> None:
        self.store.update_order(cid, status="rejected")
        LOG.error(
            "order %s refused by the broker: HTTP %s code %s: %s",
            cid,
            exc.status,
            exc.code,
            exc.message,
        )
        refused = ev.OrderRefused(
            client_order_id=cid, http=exc.status, code=exc.code, message=exc.message
        )
        self.events.publish(refused)

    def _in_doubt(self, cid: str, why: str) -> str:
        self.events.publish(ev.Order(client_order_id=cid, status="in_doubt", why=why))
        LOG.warning("order %s in doubt (%s): settling by client order id", cid, why)
        return self.settle(cid)

    def settle(self, cid: str) -> str:
        """Ask the broker for the order: 'placed', 'absent' or 'unknown' (still in doubt).

        `settle_lookups` look-ups that time out leave it unknown (each costs a whole
        time-out: a broker that hangs must not hang the bot); quick 429/5xx answers are
        retried longer, as the next answer is likely to settle it."""
        timeouts = errors = 0
        while timeouts < self.settle_lookups and errors < 5 * self.settle_lookups:
            try:
                order = self.api.by_client_id(cid)
            except (Transient, InDoubt) as exc:
                if isinstance(exc, InDoubt):
                    timeouts += 1
                else:
                    errors += 1
                self._wait(timeouts + errors - 1, getattr(exc, "reset_at", None), f"settling {cid}")
                continue
            if order is None:
                return "absent"
            self._adopt(cid, order, "settled")
            return "placed"
        self.store.update_order(cid, status="unknown")
        self.events.publish(ev.Order(client_order_id=cid, status="unknown"))
        return "unknown"

    def _wait(self, attempt: int, reset_at: float | None, why: str) -> None:
        wait = self.retrier.backoff(attempt, reset_at)
        self.events.publish(ev.Retry(why=why, attempt=attempt + 1, wait_s=round(wait, 3)))
        self.retrier.sleep(wait)

    # -- protection ----------------------------------------------------------------
    def _patience(self) -> Iterator[float]:
        """Pauses of a wait for a pending cancel: 0.1 s doubling to 2 s, `cancel_wait_s`
        in all (Alpaca usually confirms a cancel within a second)."""
        spent, k = 0.0, 0
        while spent < self.cancel_wait_s:
            pause = min(0.1 * 2**k, 2.0, self.cancel_wait_s - spent)
            spent, k = spent + pause, k + 1
            yield pause

    def _await_terminal(self, cid: str) -> str:
        status = "unknown"
        pauses = self._patience()
        while True:
            order = self.read(lambda: self.api.by_client_id(cid), f"reading order {cid}")
            if order is None:
                return status
            status = self.status_of(cid, order)
            self.store.update_order(cid, status=status, broker_id=order.id)
            if order.status in TERMINAL:
                return status
            pause = next(pauses, None)
            if pause is None:
                break
            self.retrier.sleep(pause)
        LOG.warning("order %s is still %s after the cancel", cid, status)
        return status

    def _next_stop_id(self, family: str) -> str:
        n = len([r for r in self.store.orders() if r.parent == family and r.purpose == "stop"])
        return moved_stop_id(family, n)

    # -- reading back ----------------------------------------------------------------
    def status_of(self, cid: str, order: BrokerOrder) -> str:
        """The broker's status, unless it filled more than we booked: then "fill_pending",
        an open status, so the next sync books the fill against the bar it belongs to."""
        rec = self.store.get_order(cid)
        booked = rec.filled_qty if rec is not None else 0.0
        if order.filled_qty > booked + 1e-9 and order.status in TERMINAL:
            return "fill_pending"
        return order.status

    def _adopt(self, cid: str, order: BrokerOrder, how: str) -> None:
        self.store.update_order(cid, status=self.status_of(cid, order), broker_id=order.id)
        self.events.publish(
            ev.Order(client_order_id=cid, status=order.status, broker_id=order.id, how=how)
        )
        for leg in order.legs:
            self._track_child(self._family(cid), leg)

    def _family(self, cid: str) -> str:
        """The entry a protective order belongs to (an OCO's legs belong to the entry)."""
        rec = self.store.get_order(cid)
        return rec.parent if rec is not None and rec.parent is not None else cid

    def _track_child(self, parent: str, leg: BrokerOrder) -> None:
        if self.store.get_order(leg.client_order_id) is None:
            purpose = "stop" if leg.order_type in ("stop", "stop_limit") else "take_profit"
            price_type = OrderType.STOP if purpose == "stop" else OrderType.LIMIT
            intent = OrderIntent(
                leg.client_order_id,
                leg.symbol or self.symbol,
                Side(leg.side),
                leg.qty,
                price_type,
                limit_price=leg.limit_price,
                stop_price=leg.stop_price,
                purpose=purpose,
            )
            self.store.record_intent(intent, parent=parent)
        status = self.status_of(leg.client_order_id, leg)
        self.store.update_order(
            leg.client_order_id, status=status, broker_id=leg.id, stop_price=leg.stop_price
        )

    def adopt_foreign(self, order: BrokerOrder) -> None:
        intent = OrderIntent(
            order.client_order_id, order.symbol, Side(order.side), order.qty, purpose="adopted"
        )
        self.store.record_intent(intent)
        self.store.update_order(order.client_order_id, status=order.status, broker_id=order.id)

    def _refresh(self, cid: str, ts: int) -> list[Fill]:
        order = self.read(lambda: self.api.by_client_id(cid), f"reading order {cid}")
        if order is None:
            return []
        out = self._book(cid, order, ts)
        for leg in order.legs:
            self._track_child(self._family(cid), leg)
            out.extend(self._book(leg.client_order_id, leg, ts))
        return out

    def _book(self, cid: str, order: BrokerOrder, ts: int) -> list[Fill]:
        """Book what `order` (a REST read or a pushed event) says is new. Reads arrive late,
        twice or out of order: a filled quantity never goes down and a final status never
        goes back, and a fill is keyed by order + cumulative quantity, so the same fill
        seen by REST and by the stream is booked once."""
        rec = self.store.get_order(cid)
        if rec is None:
            return []
        if order.filled_qty < rec.filled_qty - 1e-9 or (
            rec.status in TERMINAL and order.status not in TERMINAL
        ):
            return []  # an older view of the order than the one booked
        fills: list[Fill] = []
        delta = order.filled_qty - rec.filled_qty
        if delta > 1e-9 and order.filled_avg_price is not None:
            # Price of the new part: from the change in quantity x average price.
            prev_cost = (rec.avg_price or 0.0) * rec.filled_qty
            price = (order.filled_avg_price * order.filled_qty - prev_cost) / delta
            fill = Fill(cid, rec.side, delta, round(price, 6), ts, 0.0, rec.purpose, rec.symbol)
            if self.store.add_fill(f"{cid}:{order.filled_qty:g}", fill):
                fills.append(fill)
        self.store.update_order(
            cid,
            status=order.status,
            filled_qty=order.filled_qty,
            avg_price=order.filled_avg_price,
            broker_id=order.id,
        )
        return fills

    def apply_update(self, ev: StreamEvent, ts: int) -> list[Fill]:
        """A trade update pushed by the broker: booked as a REST read of that order
        would be (with its legs), stamped with the session bar `ts`."""
        order = ev.order
        if order is None or self.store.get_order(order.client_order_id) is None:
            return []  # not ours, or a leg not tracked yet: the next REST read adds it
        cid = order.client_order_id
        fills = self._book(cid, order, ts)
        for leg in order.legs:
            self._track_child(self._family(cid), leg)
            fills.extend(self._book(leg.client_order_id, leg, ts))
        return fills

    def _parent_terminal(self, rec: OrderRecord) -> bool:
        parent = self.store.get_order(rec.parent or "")
        return parent is None or parent.status in TERMINAL


__all__ = ["LiveBroker", "ReconcileError", "Reconciliation"]
