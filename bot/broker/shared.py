"""One symbol's broker over a SimBroker that several engines share: one account, one
engine per symbol.

The shared SimBroker holds the account's cash (so buying power is the account's, as at
Alpaca) and every order; a `SymbolBroker` shows its engine only its own symbol: its
orders, the fills of its orders in its own bars, and its position, against which its
sells are checked. Nothing of one symbol reaches another's engine. Imports bot.broker.sim
and bot.models only.
"""

from __future__ import annotations

from bot.broker.sim import BrokerError, OrderState, SimBroker
from bot.models import Bar, Fill, OrderIntent, Side


class SymbolBroker:
    """The `Broker` of `symbol`'s engine, over the shared `sim`."""

    def __init__(self, sim: SimBroker, symbol: str) -> None:
        self.sim = sim
        self.symbol = symbol
        self.qty = 0.0  # this symbol's position, from its fills

    def submit(self, intent: OrderIntent, bar: Bar) -> list[Fill]:
        self._mine(intent.symbol)
        return self._booked(self.sim.submit(intent, bar, held=self.qty))

    def on_bar(self, bar: Bar) -> list[Fill]:
        # The bar is this symbol's: only its orders may fill in it.
        return self._booked(self.sim.on_bar(bar, self.symbol))

    def cancel(self, client_order_id: str) -> str:
        self._mine(self._order(client_order_id).intent.symbol)
        return self.sim.cancel(client_order_id)

    def sync(self, bar: Bar) -> list[Fill]:
        return self.sim.sync(bar)

    def order_status(self, client_order_id: str) -> str | None:
        order = self.sim.orders.get(client_order_id)
        return None if order is None or order.intent.symbol != self.symbol else order.status

    def place_stop(self, intent: OrderIntent, parent: str) -> None:
        self._mine(intent.symbol)
        self.sim.place_stop(intent, parent)

    def replace_stop(self, client_order_id: str, stop_price: float) -> str:
        self._mine(self._order(client_order_id).intent.symbol)
        return self.sim.replace_stop(client_order_id, stop_price)

    def open_orders(self) -> list[OrderState]:
        return [o for o in self.sim.open_orders() if o.intent.symbol == self.symbol]

    def position_qty(self) -> float:
        return self.qty

    def entry_block(self) -> str | None:
        return self.sim.entry_block()

    def _booked(self, fills: list[Fill]) -> list[Fill]:
        for f in fills:
            self.qty += f.qty if f.side is Side.BUY else -f.qty
        return fills

    def _order(self, client_order_id: str) -> OrderState:
        order = self.sim.orders.get(client_order_id)
        if order is None:
            raise BrokerError(404, 40410000, "order not found")
        return order

    def _mine(self, symbol: str) -> None:
        # An engine never acts on another symbol's orders: a slip here is a bug.
        if symbol != self.symbol:
            raise BrokerError(422, 40010001, f"order for {symbol} sent to {self.symbol}'s broker")
