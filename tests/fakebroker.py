"""A recording fake at the Broker interface, so that runner scenarios run in-process.

As nautilus_trader's MockExecutionClient: `FakeBroker` implements `bot.broker.sim.AccountBroker`
(the Broker protocol plus the account, the clock, the recorded book and the start-up
reconciliation), records every call in `calls`, and matches orders with the real
`SimBroker` rules (market orders at the next bar's open). A test scripts what a real
account does behind the bot's back: refuse the next order (`refuse_next`), shares bought
or sold by hand in the account (`trade_by_hand`), the clock (`now_ns`, `is_open`). One FakeBroker is
"the account": handed to a second runner, it is a restart against the same broker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot.broker.sim import Book, BrokerError, OrderState, SimBroker
from bot.live.reconcile import ReconcileError, Reconciliation
from bot.models import Bar, Fill, OrderIntent, Side
from bot.settings import BrokerConfig


class Call(NamedTuple):
    name: str
    args: tuple[Any, ...]


class FakeBroker:
    def __init__(self, cfg: BrokerConfig, allow_short: bool = False) -> None:
        self.sim = SimBroker(cfg, allow_short=allow_short)
        self.cash = cfg.initial_cash
        self.calls: list[Call] = []
        self.fills: list[Fill] = []  # every fill, in order: the recorded book
        self.orders: list[OrderIntent] = []  # every order sent, stops placed included
        self.stops: set[str] = set()  # client order ids of stand-alone stops (not "sent")
        self.refusals: list[tuple[str, BrokerError]] = []  # (purpose, error) to raise next
        self.now_ns = 0
        self.is_open = True

    # -- what a test scripts ---------------------------------------------------------
    def refuse_next(self, purpose: str, message: str = "refused by the test") -> None:
        self.refusals.append((purpose, BrokerError(422, 40010001, message)))

    def trade_by_hand(self, qty: float, price: float) -> None:
        """Shares bought (+) or sold (-) in the account outside the bot."""
        side = Side.BUY if qty > 0 else Side.SELL
        self.sim.account.apply(Fill("by-hand", side, abs(qty), price, self.now_ns, 0.0, "hand"))

    def submitted(self) -> list[OrderIntent]:
        """Every order the bot tried to send, in order (refused ones and resends included)."""
        return [c.args[0] for c in self.calls if c.name == "submit"]

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [c.args for c in self.calls if c.name == name]

    # -- Broker ----------------------------------------------------------------------
    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        self.calls.append(Call("submit", (intent, bar.ts)))
        for k, (purpose, error) in enumerate(self.refusals):
            if purpose == intent.purpose:
                del self.refusals[k]
                raise error
        fills = self.sim.submit(intent, bar)
        self.orders.append(intent)
        self.fills.extend(fills)
        return fills

    def on_bar(self, bar: Bar) -> list[Fill]:
        self.calls.append(Call("on_bar", (bar.ts,)))
        fills = self.sim.on_bar(bar)
        self.fills.extend(fills)
        return fills

    def cancel(self, client_order_id: str) -> str:
        self.calls.append(Call("cancel", (client_order_id,)))
        return self.sim.cancel(client_order_id)

    def sync(self, bar: Bar) -> list[Fill]:
        self.calls.append(Call("sync", (bar.ts,)))
        return []

    def order_status(self, client_order_id: str) -> str | None:
        return self.sim.order_status(client_order_id)

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        self.calls.append(Call("place_stop", (intent, parent)))
        self.sim.place_stop(intent, parent)
        self.orders.append(intent)
        self.stops.add(intent.client_order_id)

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        self.calls.append(Call("replace_stop", (client_order_id, stop_price)))
        return self.sim.replace_stop(client_order_id, stop_price)

    def open_orders(self) -> list[OrderState]:
        return self.sim.open_orders()

    def position_qty(self) -> float:
        return self.sim.account.qty

    def entry_block(self) -> str | None:
        return None

    # -- AccountBroker ---------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        self.calls.append(Call("account", ()))
        return {"cash": self.cash, "equity": self.cash}

    def clock(self) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.now_ns / 1e9, UTC)
        return {"now": now, "is_open": self.is_open}

    def recorded(self) -> Book:
        sent = [o for o in self.orders if o.client_order_id not in self.stops]
        return Book(list(self.fills), list(self.orders), sent)

    def reconcile(self, local_qty: float, now_ts: int, adopt: bool = False) -> Reconciliation:
        self.calls.append(Call("reconcile", (local_qty, now_ts, adopt)))
        held = self.position_qty()
        result = Reconciliation(held, self.sim.account.avg_price)
        if abs(held - local_qty) > 1e-9:
            if not adopt:
                why = f"the broker holds {held:g}, the bot's record says {local_qty:g}"
                raise ReconcileError(why)
            result.notes.append("adopting the broker's position")
        return result


__all__ = ["Call", "FakeBroker"]
