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
  never retried.
Fills are read back from the broker and booked once each (fill ids are
order id + cumulative quantity), so a re-poll or a restart never double-counts.
This module knows nothing of HTTP or alpaca-py: it drives `bot.alpaca.AlpacaApi`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bot.alpaca import BrokerOrder, InDoubt, Transient
from bot.broker import BrokerError, DuplicateOrderError, OrderState
from bot.engine import EventSink, no_events
from bot.models import Bar, Fill, OrderIntent, OrderType, Side
from bot.state import OrderRecord, StateStore

LOG = logging.getLogger("bot.execution")
TERMINAL = {"filled", "canceled", "expired", "replaced", "rejected", "abandoned"}
_NO_FILLS: list[Fill] = []
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


class ReconcileError(Exception):
    """Local state and the broker disagree in a way the bot cannot explain."""


@dataclass
class Reconciliation:
    broker_qty: float = 0.0
    broker_avg_price: float = 0.0
    notes: list[str] = field(default_factory=list)


class LiveBroker:
    def __init__(
        self,
        api: Api,
        store: StateStore,
        symbol: str,
        events: EventSink = no_events,
        settle_lookups: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 60.0,
        read_attempts: int = 20,
        max_send_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        self.api = api
        self.store = store
        self.symbol = symbol
        self.events = events
        self.settle_lookups = settle_lookups
        self.backoff_base = backoff_base_s
        self.backoff_cap = backoff_cap_s
        self.read_attempts = read_attempts
        self.max_send_attempts = max_send_attempts
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._last_ts: int | None = None  # the last bar synced (for stale intents)

    # -- Broker protocol -----------------------------------------------------------
    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        self.store.record_intent(intent, level=intent.level)
        self._send(intent)
        return []

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Read back every open order; return the fills that happened since last time."""
        open_recs = self.store.orders(open_only=True)
        if not open_recs:
            return _NO_FILLS
        fills: list[Fill] = []
        for rec in open_recs:
            if rec.parent is not None:
                continue  # children are refreshed through their parent (nested legs)
            if rec.status in ("intent", "unknown"):
                outcome = self._settle(rec.client_order_id)
                if outcome == "absent":
                    self._absent(rec)
                if outcome != "placed":
                    continue
            fills.extend(self._refresh(rec.client_order_id, bar.ts))
        for rec in self.store.orders(open_only=True):
            if rec.parent is not None and self._parent_terminal(rec):
                fills.extend(self._refresh(rec.client_order_id, bar.ts))
        self._last_ts = bar.ts
        return fills

    def _absent(self, rec: OrderRecord) -> None:
        """An order in doubt that the broker says it never received.

        Exits are always sent again (same id, so still at most once): a position must be
        able to close. An entry is sent again only while its signal is the latest bar's;
        an older one is abandoned rather than bought late at a price the rules never saw.
        """
        fresh = self._last_ts is None or rec.signal_ts >= self._last_ts
        if rec.purpose != "entry" or fresh:
            self.events("order", client_order_id=rec.client_order_id, status="resend", why="absent")
            with contextlib.suppress(BrokerError):  # a refusal is recorded as rejected by _send
                self._send(rec.intent())
            return
        self.store.update_order(rec.client_order_id, status="abandoned")
        self.events(
            "order",
            client_order_id=rec.client_order_id,
            status="abandoned",
            why="never reached the broker and its signal is stale",
        )

    def cancel(self, client_order_id: str) -> None:
        rec = self.store.get_order(client_order_id)
        if rec is None or rec.broker_id is None or not rec.is_open:
            return
        try:
            self._with_retries(lambda: self.api.cancel(rec.broker_id or ""))
            self.store.update_order(client_order_id, status="canceled")
            self.events("order", client_order_id=client_order_id, status="canceled")
        except BrokerError as exc:
            # 422 "not cancelable": it filled or expired meanwhile; the next sync books it.
            self.events(
                "order", client_order_id=client_order_id, status="cancel_refused", error=str(exc)
            )

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        rec = self.store.get_order(client_order_id)
        if rec is None or rec.broker_id is None:
            return client_order_id
        n = len([r for r in self.store.orders() if r.parent == rec.parent and r.purpose == "stop"])
        new_id = f"{rec.parent or client_order_id}-sl{n}"[:128]
        order = self._with_retries(
            lambda: self.api.replace_stop(rec.broker_id or "", stop_price, new_id)
        )
        self.store.update_order(client_order_id, status="replaced")
        self._track_child(rec.parent or client_order_id, order)
        return order.client_order_id

    def open_orders(self) -> list[OrderState]:
        return [
            OrderState(r.intent(), status=r.status, filled_qty=r.filled_qty, parent=r.parent)
            for r in self.store.orders(open_only=True)
        ]

    def position_qty(self) -> float:
        return self._with_retries(lambda: self.api.position_qty(self.symbol))[0]

    def entry_block(self) -> str | None:
        doubt = [
            r.client_order_id for r in self.store.orders(open_only=True) if r.status == "unknown"
        ]
        return f"order(s) in doubt at the broker: {', '.join(doubt)}" if doubt else None

    # -- start-up ------------------------------------------------------------------
    def reconcile(self, local_qty: float, now_ts: int, adopt: bool = False) -> Reconciliation:
        """Settle every order we know, compare with the broker, refuse what is unexplained."""
        result = Reconciliation()
        self._last_ts = now_ts
        for rec in self.store.orders(open_only=True):
            if rec.parent is None and self._settle(rec.client_order_id) == "absent":
                # Recorded but never reached the broker (a crash before the send).
                self._absent(rec)
                result.notes.append(f"order {rec.client_order_id} was not at the broker")
        # Fills that happened while the bot was down are not booked here: the next sync
        # books them against the bar they belong to. They count for the position check.
        unbooked = 0.0
        for rec in self.store.orders(open_only=True):
            if rec.status in ("intent", "unknown"):
                continue
            cid = rec.client_order_id
            order = self._with_retries(lambda cid=cid: self.api.by_client_id(cid))  # type: ignore[misc]
            if order is None:
                continue
            status = self._status(rec.client_order_id, order)
            self.store.update_order(rec.client_order_id, status=status, broker_id=order.id)
            delta = order.filled_qty - rec.filled_qty
            if delta > 1e-9:
                unbooked += delta if rec.side is Side.BUY else -delta
        known = {r.client_order_id for r in self.store.orders()}
        known_ids = {r.broker_id for r in self.store.orders() if r.broker_id}
        problems: list[str] = []
        for o in self._with_retries(lambda: self.api.open_orders(self.symbol)):
            for order in (o, *o.legs):
                if order.client_order_id in known or order.id in known_ids:
                    continue
                if order.status in TERMINAL:
                    continue
                if adopt:
                    self._adopt_foreign(order)
                    result.notes.append(
                        f"adopted open order {order.client_order_id} ({order.side} {order.qty:g})"
                    )
                else:
                    problems.append(
                        "the broker has an open order the bot does not know: "
                        f"{order.client_order_id} ({order.side} {order.qty:g} {order.symbol}, "
                        f"{order.order_type}, {order.status})"
                    )
        qty, avg = self._with_retries(lambda: self.api.position_qty(self.symbol))
        result.broker_qty, result.broker_avg_price = qty, avg
        booked = local_qty + unbooked
        if abs(qty - booked) > 1e-9:
            msg = (
                f"position mismatch for {self.symbol}: the broker holds {qty:g} shares, "
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

    # -- internals -----------------------------------------------------------------
    def _send(self, intent: OrderIntent) -> None:
        cid = intent.client_order_id
        for attempt in range(self.max_send_attempts):
            try:
                order = self.api.submit(intent)
            except DuplicateOrderError:
                # Already placed (a retry that raced, or a restart): adopt, never re-place.
                self.events("order", client_order_id=cid, status="exists_adopted")
                self._settle(cid)
                return
            except BrokerError as exc:
                self.store.update_order(cid, status="rejected")
                LOG.error(
                    "order %s refused by the broker: HTTP %s code %s: %s",
                    cid,
                    exc.status,
                    exc.code,
                    exc.message,
                )
                self.events(
                    "error",
                    client_order_id=cid,
                    http=exc.status,
                    code=exc.code,
                    message=exc.message,
                )
                raise
            except Transient as exc:
                if exc.status == 429:
                    self._backoff(attempt, exc.reset_at, f"429 on order {cid}")
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
        self.events("order", client_order_id=cid, status="unknown", why="send attempts exhausted")

    def _in_doubt(self, cid: str, why: str) -> str:
        self.events("order", client_order_id=cid, status="in_doubt", why=why)
        LOG.warning("order %s in doubt (%s): settling by client order id", cid, why)
        return self._settle(cid)

    def _settle(self, cid: str) -> str:
        """Ask the broker for the order: 'placed', 'absent' or 'unknown' (still in doubt)."""
        for attempt in range(self.settle_lookups):
            try:
                order = self.api.by_client_id(cid)
            except (Transient, InDoubt) as exc:
                self._backoff(attempt, getattr(exc, "reset_at", None), f"settling {cid}")
                continue
            if order is None:
                return "absent"
            self._adopt(cid, order, "settled")
            return "placed"
        self.store.update_order(cid, status="unknown")
        self.events("order", client_order_id=cid, status="unknown")
        return "unknown"

    def _status(self, cid: str, order: BrokerOrder) -> str:
        """The broker's status, unless it filled more than we booked: then "fill_pending",
        an open status, so the next sync books the fill against the bar it belongs to."""
        rec = self.store.get_order(cid)
        booked = rec.filled_qty if rec is not None else 0.0
        if order.filled_qty > booked + 1e-9 and order.status in TERMINAL:
            return "fill_pending"
        return order.status

    def _adopt(self, cid: str, order: BrokerOrder, how: str) -> None:
        self.store.update_order(cid, status=self._status(cid, order), broker_id=order.id)
        self.events("order", client_order_id=cid, status=order.status, broker_id=order.id, how=how)
        for leg in order.legs:
            self._track_child(cid, leg)

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
        status = self._status(leg.client_order_id, leg)
        self.store.update_order(
            leg.client_order_id, status=status, broker_id=leg.id, stop_price=leg.stop_price
        )

    def _adopt_foreign(self, order: BrokerOrder) -> None:
        intent = OrderIntent(
            order.client_order_id, order.symbol, Side(order.side), order.qty, purpose="adopted"
        )
        self.store.record_intent(intent)
        self.store.update_order(order.client_order_id, status=order.status, broker_id=order.id)

    def _refresh(self, cid: str, ts: int) -> list[Fill]:
        try:
            order = self._with_retries(lambda: self.api.by_client_id(cid))
        except (Transient, InDoubt):
            return []  # try again next bar
        if order is None:
            return []
        out = self._book(cid, order, ts)
        for leg in order.legs:
            self._track_child(cid, leg)
            out.extend(self._book(leg.client_order_id, leg, ts))
        return out

    def _book(self, cid: str, order: BrokerOrder, ts: int) -> list[Fill]:
        rec = self.store.get_order(cid)
        if rec is None:
            return []
        fills: list[Fill] = []
        delta = order.filled_qty - rec.filled_qty
        if delta > 1e-9 and order.filled_avg_price is not None:
            # Price of the new part: from the change in quantity x average price.
            prev_cost = (rec.avg_price or 0.0) * rec.filled_qty
            price = (order.filled_avg_price * order.filled_qty - prev_cost) / delta
            fill = Fill(cid, rec.side, delta, round(price, 6), ts, 0.0, rec.purpose)
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

    def _parent_terminal(self, rec: OrderRecord) -> bool:
        parent = self.store.get_order(rec.parent or "")
        return parent is None or parent.status in TERMINAL

    def clock(self) -> dict[str, Any]:
        """The broker's clock: now, is_open, next open/close."""
        return self._with_retries(self.api.clock)

    def account(self) -> dict[str, float | str]:
        """The broker account (cash, equity); wrong keys fail here with a 401."""
        return self._with_retries(self.api.account)

    def _with_retries(self, fn: Callable[[], T]) -> T:
        """Read calls are safe to repeat: retry 5xx, 429 and time-outs with backoff."""
        for attempt in range(self.read_attempts):
            try:
                return fn()
            except (Transient, InDoubt) as exc:
                if attempt == self.read_attempts - 1:
                    raise
                self._backoff(attempt, getattr(exc, "reset_at", None), "read call")
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, reset_at: float | None, why: str) -> None:
        if reset_at is not None:
            wait = max(0.0, reset_at - self._clock()) + self._rng.uniform(0, 0.25)
        else:
            # Exponential with full jitter, capped.
            wait = self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        wait = min(wait, self.backoff_cap)
        self.events("retry", why=why, attempt=attempt + 1, wait_s=round(wait, 3))
        self._sleep(wait)
