"""`OrderSender`: orders sent to Alpaca at most once and never lost, and cancels waited
out, whatever the network does.

- the intent is in the state store before anything is sent (`LiveBroker` records it);
- every order carries its deterministic client order id, so any resend of it is
  harmless: Alpaca answers 422 "client_order_id must be unique" and the existing
  order is adopted;
- a 429 means the request was refused before it was processed: wait (honouring
  X-RateLimit-Reset, else exponential backoff with jitter) and resend;
- a 5xx, a time-out or a dropped connection leaves the order *in doubt*: it is settled
  by looking it up by client order id (a few tries with backoff) and only resent, with
  the same id, once the broker says it does not have it. While an order stays in doubt
  no new entry is allowed (`LiveBroker.entry_block`);
- definitive refusals (403, 404, 422) are logged with Alpaca's code and message and
  never retried, except a sell refused because orders being cancelled still hold the
  shares (403 with `held_for_orders`): that one was not created, so it is resent with
  the same id once the cancel is through;
- a cancel is only done when the broker says so: Alpaca answers DELETE with 204 on
  *acceptance* and the order may sit in `pending_cancel`, still holding its shares
  (https://docs.alpaca.markets/reference/deleteorderbyorderid). The order is read back
  until it is terminal (bounded: `await_terminal`).
What the broker's answers mean for the state store is `OrderLedger`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from bot import events as ev
from bot.alpaca.orders import BrokerOrder
from bot.broker.ledger import OrderLedger
from bot.broker.sim import BrokerError, DuplicateOrderError, InDoubt, Transient
from bot.events.sinks import Publisher
from bot.live.reconcile import TERMINAL
from bot.live.retry import Retrier
from bot.models import OrderIntent
from bot.store.state import StateStore

LOG = logging.getLogger("bot.execution")
# Orders that sell (or buy back) shares the account holds: a 403 "held for orders" on
# them is a cancel still in flight, worth waiting out.
_CLOSING = {"exit", "flatten", "stop", "take_profit", "oco"}


class SendApi(Protocol):
    """The broker calls sending and settling make (a part of `bot.broker.live.Api`)."""

    def submit(self, intent: OrderIntent) -> BrokerOrder: ...
    def by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...


class OrderSender:
    def __init__(
        self,
        api: SendApi,
        store: StateStore,
        events: Publisher,
        retrier: Retrier,
        ledger: OrderLedger,
        settle_lookups: int,
        max_send_attempts: int,
        cancel_wait_s: float,
    ) -> None:
        self.api = api
        self.store = store
        self.events = events
        self.retrier = retrier
        self.ledger = ledger  # records what the broker answers
        self.settle_lookups = settle_lookups
        self.max_send_attempts = max_send_attempts
        self.cancel_wait_s = cancel_wait_s  # how long a pending cancel is waited for

    def send(self, intent: OrderIntent) -> None:
        """Get `intent` to the broker (see the module doc). Raises BrokerError on a
        definitive refusal (the order is recorded as rejected); an order still in doubt
        afterwards is left "unknown" for the next sync to settle."""
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
            self.ledger.adopt(cid, order, "submitted")
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
            self.ledger.adopt(cid, order, "settled")
            return "placed"
        self.store.update_order(cid, status="unknown")
        self.events.publish(ev.Order(client_order_id=cid, status="unknown"))
        return "unknown"

    def _wait(self, attempt: int, reset_at: float | None, why: str) -> None:
        wait = self.retrier.backoff(attempt, reset_at)
        self.events.publish(ev.Retry(why=why, attempt=attempt + 1, wait_s=round(wait, 3)))
        self.retrier.sleep(wait)

    def _patience(self) -> Iterator[float]:
        """Pauses of a wait for a pending cancel: 0.1 s doubling to 2 s, `cancel_wait_s`
        in all (Alpaca usually confirms a cancel within a second)."""
        spent, k = 0.0, 0
        while spent < self.cancel_wait_s:
            pause = min(0.1 * 2**k, 2.0, self.cancel_wait_s - spent)
            spent, k = spent + pause, k + 1
            yield pause

    def await_terminal(self, cid: str) -> str:
        """Read a cancelled order back until it is done (bounded by `cancel_wait_s`);
        returns its last recorded status."""
        status = "unknown"
        pauses = self._patience()
        while True:
            order = self.retrier.call(lambda: self.api.by_client_id(cid), f"reading order {cid}")
            if order is None:
                return status
            status = self.ledger.status_of(cid, order)
            self.store.update_order(cid, status=status, broker_id=order.id)
            if order.status in TERMINAL:
                return status
            pause = next(pauses, None)
            if pause is None:
                break
            self.retrier.sleep(pause)
        LOG.warning("order %s is still %s after the cancel", cid, status)
        return status


__all__ = ["OrderSender", "SendApi"]
