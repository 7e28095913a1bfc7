"""The account checks of a new or replacing order, with Alpaca's refusals.

- bracket legs must sit on the right side of the base price (422 40010001);
- a buy must fit in buying power: qty x price, the price being the limit of a limit
  buy, else the latest price x (1 + slippage) (403 40310000, with `buying_power` and
  `cost_basis` as decimal strings);
- without shorting, a sell must fit in the position less what open sell orders already
  hold (403 40310000 "insufficient qty available for order (requested: N, available: M)").
"""

from __future__ import annotations

from bot.emulator.account import Quote
from bot.emulator.book import OrderBook
from bot.emulator.errors import FORBIDDEN, ApiError, invalid
from bot.emulator.jsonfmt import dec
from bot.emulator.orders import EmuOrder, OrderSpec
from bot.models import OrderType, Side


def check_leg_prices(spec: OrderSpec, quote: Quote | None) -> None:
    base = spec.limit_price or spec.stop_price or (quote.current if quote else None)
    if base is None:
        return
    sign = 1 if spec.side is Side.BUY else -1
    if spec.take_profit is not None and sign * (spec.take_profit - base) < 0.01 - 1e-9:
        op = ">= base_price + 0.01" if sign > 0 else "<= base_price - 0.01"
        raise invalid(f"take_profit.limit_price must be {op}", base_price=dec(base))
    if spec.stop_loss is not None and sign * (base - spec.stop_loss) < 0.01 - 1e-9:
        op = "<= base_price - 0.01" if sign > 0 else ">= base_price + 0.01"
        raise invalid(f"stop_loss.stop_price must be {op}", base_price=dec(base))


def check_funds(
    spec: OrderSpec,
    quote: Quote | None,
    position_qty: float,
    buying_power: float,
    book: OrderBook,
    slippage_bps: float,
    shorting: bool,
    replacing: EmuOrder | None = None,
) -> float:
    """Raise the 403 Alpaca would give, or return the buying power the order holds while
    open. `replacing`: the order this one replaces, whose hold is released."""
    if spec.side is Side.BUY and position_qty >= 0:
        if spec.type is OrderType.LIMIT and spec.limit_price is not None:
            price = spec.limit_price  # a limit buy never costs more than its limit
        elif quote is not None:
            price = quote.current * (1 + slippage_bps / 10_000)
        elif spec.stop_price is not None:
            price = spec.stop_price * (1 + slippage_bps / 10_000)
        else:
            raise invalid(f"no price for {spec.symbol} yet")
        cost = spec.qty * price
        power = buying_power + (replacing.reserved if replacing else 0.0)
        if cost > power + 1e-9:
            raise ApiError(
                403,
                FORBIDDEN,
                "insufficient buying power",
                buying_power=dec(power),
                cost_basis=dec(cost),
            )
        return cost
    if spec.side is Side.SELL and not shorting:
        skip = {replacing.id, replacing.sibling_id} if replacing else set()
        on_hold, related = book.held_for_orders(spec.symbol, Side.SELL, skip)
        available = max(position_qty, 0.0) - on_hold
        if spec.qty > available + 1e-9:
            raise ApiError(
                403,
                FORBIDDEN,
                "insufficient qty available for order "
                f"(requested: {spec.qty:g}, available: {available:g})",
                available=dec(available),
                existing_qty=dec(position_qty),
                held_for_orders=dec(on_hold),
                related_orders=related,
                symbol=spec.symbol,
            )
    return 0.0
