"""The Broker interface the engine talks to, and SimBroker, the simulated one.

`AccountBroker` is a Broker on an account the bot does not own (LiveBroker, or a test's
fake): what a paper run needs on top, the account, the clock, what the bot recorded of
its orders and fills (`Book`), and the start-up reconciliation.

SimBroker keeps its own account (like a real broker does), matches orders against
each new bar with `bot.broker.matching.match_bar` (the emulator uses the same loop), and refuses
what Alpaca refuses: a reused client order id, a non-positive quantity, a buy above
buying power, a sell of shares not held when shorting is off. Bracket orders: the
protective stop-loss and take-profit children are held until the entry fills, then
work as one-cancels-other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.broker.matching import Terms, commission, match_bar, with_slippage
from bot.engine.orderids import leg_id
from bot.engine.portfolio import Portfolio
from bot.models import Bar, Fill, OrderIntent, OrderType, Side
from bot.settings import BrokerConfig

if TYPE_CHECKING:
    from bot.live.reconcile import Reconciliation

OPEN_STATES = frozenset({"new", "held", "accepted"})
_NO_FILLS: list[Fill] = []  # shared empty result of the common case; never mutated


class BrokerError(Exception):
    """A definitive refusal by the broker (not retried, with one exception: a sell
    refused because open orders still hold the shares, see `held_by_orders`).

    `details` holds the extra keys of Alpaca's error body (e.g. `held_for_orders`)."""

    def __init__(
        self, status: int, code: int, message: str, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details = details or {}

    @property
    def held_by_orders(self) -> bool:
        """403 "insufficient qty available" while other orders hold shares: a cancel the
        broker accepted but has not finished yet (pending_cancel), so a retry can pass."""
        if self.status != 403 or "insufficient qty" not in self.message:
            return False
        try:
            return float(str(self.details.get("held_for_orders", 0))) > 0
        except ValueError:
            return False


class DuplicateOrderError(BrokerError):
    """The client order id was used before: the order exists and must be adopted."""


class Transient(Exception):
    """429 or 5xx: nothing was done (429) or we cannot tell (5xx); retry or settle."""

    def __init__(self, status: int, message: str, reset_at: float | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.reset_at = status, message, reset_at


class InDoubt(Exception):
    """Time-out or dropped connection: the broker may or may not have acted."""


@dataclass
class OrderState:
    intent: OrderIntent
    status: str = "new"
    filled_qty: float = 0.0
    fill_price: float | None = None
    parent: str | None = None
    sibling: str | None = None
    children: tuple[str, ...] = ()

    def terms(self) -> Terms | None:
        """What `bot.broker.matching.match_bar` needs, while the order works."""
        if self.status not in OPEN_STATES:
            return None
        it = self.intent
        return it.type, it.side, it.limit_price, it.stop_price


class Broker(Protocol):
    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        """Send an order; may return fills at once (fill-at-close). Raises BrokerError."""
        ...

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Fills that happened during this bar, in the order they happened."""
        ...

    def cancel(self, client_order_id: str) -> str:
        """Cancel and return the order's final status (a live broker waits for it)."""
        ...

    def sync(self, bar: Bar) -> list[Fill]:
        """Fills that happened since the last look, without a new bar (a live broker
        re-reads its open orders; a simulated one has nothing new between bars)."""
        ...

    def order_status(self, client_order_id: str) -> str | None:
        """The order's status as last seen, or None if unknown."""
        ...

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        """A stand-alone protective stop for an open position (tracked as `parent`'s)."""
        ...

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        """Move a stop; returns the client order id of the live stop afterwards."""
        ...

    def open_orders(self) -> list[OrderState]: ...

    def position_qty(self) -> float: ...

    def entry_block(self) -> str | None:
        """Why no new entry may be sent now (an order in doubt), or None."""
        ...


@dataclass(frozen=True)
class Book:
    """What the bot recorded of an account's orders and fills: what a restart rebuilds from."""

    fills: list[Fill]  # in the order they were booked
    orders: list[OrderIntent]  # every order recorded (for the reasons and tags of trades)
    sent: list[OrderIntent]  # those the bot sent itself (not legs, not adopted)


@runtime_checkable
class AccountBroker(Broker, Protocol):
    def account(self) -> dict[str, Any]:
        """The account (cash, equity); wrong keys fail here."""
        ...

    def clock(self) -> dict[str, Any]:
        """The broker's clock: now (a datetime) and is_open."""
        ...

    def recorded(self) -> Book: ...

    def reconcile(self, local_qty: float, now_ts: int, adopt: bool = False) -> Reconciliation:
        """Settle the orders in doubt, compare orders and position with ours; refuse
        (ReconcileError) what cannot be explained unless `adopt`."""
        ...


class SimBroker:
    """An in-process broker for backtests and offline replays."""

    def __init__(self, cfg: BrokerConfig, allow_short: bool = False) -> None:
        self.cfg = cfg
        self.allow_short = allow_short
        self.account = Portfolio(cfg.initial_cash)
        self.orders: dict[str, OrderState] = {}
        # The orders working, in placement order: one list for the broker's life (changed
        # in place), so the engine may hold it and skip `on_bar` while it is empty.
        self._working: list[OrderState] = []
        self.working: Sequence[OrderState] = self._working

    # -- interface -------------------------------------------------------------------
    def submit(self, intent: OrderIntent, bar: Bar, held: float | None = None) -> list[Fill]:
        """Place an order; `held` is the position a sell is checked against (default: the
        account's; a symbol's view of a shared account passes its symbol's)."""
        self._validate(intent, bar, self.account.qty if held is None else held)
        order = OrderState(intent)
        self.orders[intent.client_order_id] = order
        kids: list[str] = []
        for suffix, otype, price in (
            ("sl", OrderType.STOP, intent.stop_loss),
            ("tp", OrderType.LIMIT, intent.take_profit),
        ):
            if price is None:
                continue
            cid = leg_id(intent.client_order_id, suffix)
            child = OrderIntent(
                cid,
                intent.symbol,
                Side.SELL if intent.side is Side.BUY else Side.BUY,
                intent.qty,
                otype,
                limit_price=price if otype is OrderType.LIMIT else None,
                stop_price=price if otype is OrderType.STOP else None,
                purpose="stop" if suffix == "sl" else "take_profit",
                signal_ts=intent.signal_ts,
                reason=intent.reason,
            )
            self.orders[cid] = OrderState(child, status="held", parent=intent.client_order_id)
            kids.append(cid)
        if len(kids) == 2:
            self.orders[kids[0]].sibling, self.orders[kids[1]].sibling = kids[1], kids[0]
        order.children = tuple(kids)
        if intent.type is OrderType.MARKET and self.cfg.fill_at == "close":
            # Fill-at-close model: the order executes at the close of the signal bar.
            closing_bar = bar._replace(open=bar.close, high=bar.close, low=bar.close)
            return self._execute(order, bar.close, closing_bar)
        self._working.append(order)
        return []

    def on_bar(self, bar: Bar, symbol: str | None = None) -> list[Fill]:
        """Fills of working orders in `bar` (only `symbol`'s orders, if given: the bar is
        that symbol's, and other symbols' orders wait for their own bars)."""
        if not self._working:
            return _NO_FILLS
        working = self._working
        if symbol is not None:
            working = [o for o in working if o.intent.symbol == symbol]
        fills: list[Fill] = []

        def fill(order: OrderState, raw: float) -> list[OrderState]:
            known = len(self._working)
            fills.extend(self._execute(order, raw, bar))
            return self._working[known:]  # the bracket children this fill activated

        match_bar(list(working), bar, fill)
        self._working[:] = [o for o in self._working if o.status in OPEN_STATES]
        return fills

    def cancel(self, client_order_id: str) -> str:
        order = self.orders.get(client_order_id)
        if order is None:
            raise BrokerError(404, 40410000, "order not found")
        if order.status in OPEN_STATES:
            order.status = "canceled"
        self._working[:] = [o for o in self._working if o.status in OPEN_STATES]
        return order.status

    def sync(self, bar: Bar) -> list[Fill]:
        return _NO_FILLS  # nothing fills between bars here

    def order_status(self, client_order_id: str) -> str | None:
        order = self.orders.get(client_order_id)
        return None if order is None else order.status

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        self._validate_id(intent)
        order = OrderState(intent, status="new", parent=parent)
        self.orders[intent.client_order_id] = order
        self._working.append(order)

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        order = self.orders[client_order_id]
        order.intent = replace(order.intent, stop_price=stop_price)
        return client_order_id

    def open_orders(self) -> list[OrderState]:
        return [o for o in self.orders.values() if o.status in OPEN_STATES]

    def position_qty(self) -> float:
        return self.account.qty

    def entry_block(self) -> str | None:
        return None  # a simulated broker is never in doubt

    # -- internals -------------------------------------------------------------------
    def _validate_id(self, intent: OrderIntent) -> None:
        if intent.client_order_id in self.orders:
            raise DuplicateOrderError(422, 40010001, "client_order_id must be unique")

    def _validate(self, intent: OrderIntent, bar: Bar, held: float) -> None:
        self._validate_id(intent)
        if not intent.qty > 0:
            raise BrokerError(422, 40010001, "qty must be > 0")
        if intent.side is Side.BUY and held >= 0:
            cost = intent.qty * bar.close * (1 + self.cfg.slippage_bps / 10_000)
            if cost > self.account.cash + 1e-9:
                raise BrokerError(403, 40310000, "insufficient buying power")
        if intent.side is Side.SELL and not self.allow_short and intent.qty > held + 1e-9:
            msg = (
                "insufficient qty available for order "
                f"(requested: {intent.qty:g}, available: {held:g})"
            )
            raise BrokerError(403, 40310000, msg)

    def _execute(self, order: OrderState, raw: float, bar: Bar) -> list[Fill]:
        it = order.intent
        price = with_slippage(raw, it.side, it.type, self.cfg.slippage_bps)
        fee = commission(it.qty, self.cfg.commission_per_share, self.cfg.commission_min)
        fill = Fill(it.client_order_id, it.side, it.qty, price, bar.ts, fee, it.purpose, it.symbol)
        order.status, order.filled_qty, order.fill_price = "filled", it.qty, price
        self.account.apply(fill)
        fills = [fill]
        if order.sibling is not None:
            sib = self.orders[order.sibling]
            if sib.status in OPEN_STATES:
                sib.status = "canceled"
        # Bracket children go live once the entry fills (checked from the next price on).
        for cid in order.children:
            child = self.orders[cid]
            child.status = "new"
            self._working.append(child)
        return fills
