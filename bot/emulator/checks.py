"""The account checks of a new or replacing order, with Alpaca's refusals.

- a bracket/OTO must open a position, and its legs must sit on the right side of the
  base price; an OCO stop on the right side of the current price (`check_advanced`);
- a buy must fit in buying power: qty x price, the price being the limit of a limit
  buy, else the latest price x (1 + slippage) (403 40310000, with `buying_power` and
  `cost_basis` as decimal strings);
- without shorting, a sell must fit in the position less what open sell orders already
  hold (403 40310000 "insufficient qty available for order (requested: N, available: M)").
"""

from __future__ import annotations

from bot.emulator.account import Quote
from bot.emulator.book import OrderBook
from bot.emulator.errors import FORBIDDEN, INVALID, UNPROCESSABLE, ApiError, invalid
from bot.emulator.jsonfmt import dec
from bot.emulator.orders import EmuOrder, OrderSpec
from bot.models import OrderType, Side


def check_advanced(spec: OrderSpec, quote: Quote | None, position_qty: float, strict: bool) -> None:
    """The refusals of a bracket, OTO or OCO order that need the market or the account.

    With `strict` (`state.order_refusals`, on by default), following
    https://docs.alpaca.markets/docs/orders-at-alpaca (bracket orders; "Threshold on
    stop price of stop-loss orders"):
    - a bracket/OTO opens a position ("The first order is used to enter a new long or
      short position"): one whose entry would reduce the position held is refused with
      422 42210000 "bracket orders must be entry orders" (Alpaca's words,
      alpacahq/alpaca-trade-api-js#248), and its entry must be a market or limit order
      (422 40010001 "bracket orders must be market or limit orders", Alpaca's words);
    - the stop leg must be at least $0.01 below (above, for a sell entry) its base
      price, where "the base price ... is the limit price of the take-profit, for OCO
      orders; the limit price of the entry order, for bracket or OTO orders if the
      entry type is limit; It is also the current market price for any, of OCO, OTO and
      bracket": so a buy bracket's stop is checked against the limit AND the current
      price; 422 42210000.
    Without it, the emulator's former single-base check (limit, else the current price)
    with 422 40010001. The take-profit is checked against the entry's limit, else the
    current price ("take_profit.limit_price must be >= base_price + 0.01")."""
    code = UNPROCESSABLE if strict else INVALID
    sign = 1 if spec.side is Side.BUY else -1
    current = quote.current if quote else None
    if spec.order_class == "oco":  # an exit pair: its legs are on the side of the order
        # The legs of a sell oco are sells: its stop must be below the current price.
        stop = spec.stop_loss
        if not strict or current is None or stop is None:
            return
        if sign * (stop - current) < 0.01 - 1e-9:
            op = ">= base_price + 0.01" if sign > 0 else "<= base_price - 0.01"
            raise ApiError(422, code, f"stop_loss.stop_price must be {op}", base_price=dec(current))
        return
    if strict:
        if sign * position_qty < 0:
            raise ApiError(422, UNPROCESSABLE, f"{spec.order_class} orders must be entry orders")
        if spec.type not in (OrderType.MARKET, OrderType.LIMIT):
            raise invalid(f"{spec.order_class} orders must be market or limit orders")
    base = spec.limit_price or spec.stop_price or current
    if base is None:
        return
    if spec.take_profit is not None and sign * (spec.take_profit - base) < 0.01 - 1e-9:
        op = ">= base_price + 0.01" if sign > 0 else "<= base_price - 0.01"
        raise ApiError(422, code, f"take_profit.limit_price must be {op}", base_price=dec(base))
    bases = [base] + ([current] if strict and current is not None else [])
    for b in bases:
        if spec.stop_loss is not None and sign * (b - spec.stop_loss) < 0.01 - 1e-9:
            op = "<= base_price - 0.01" if sign > 0 else ">= base_price + 0.01"
            raise ApiError(422, code, f"stop_loss.stop_price must be {op}", base_price=dec(b))


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
