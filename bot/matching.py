"""Order matching against one bar: the single copy used by SimBroker and the emulator.

Rules (documented in the README):
- market orders fill at the bar's open (the first price after they were sent);
- a stop triggers when the bar trades through it; if the bar *opens* beyond the stop
  (a gap), the fill is at the open, which is worse than the stop;
- a limit fills when the bar trades through it, at the limit, or at the open if the
  bar opens better than the limit;
- market and stop fills are moved against the trader by `slippage_bps`; limit
  fills are not (a limit price is a promise).
Pure functions, no state, no I/O.
"""

from __future__ import annotations

from bot.models import OrderType, Side


def trigger_price(
    otype: OrderType,
    side: Side,
    limit: float | None,
    stop: float | None,
    o: float,
    h: float,
    lo: float,
) -> float | None:
    """The raw price at which an order would execute on this bar, or None."""
    if otype is OrderType.MARKET:
        return o
    if otype is OrderType.STOP:
        assert stop is not None
        if side is Side.SELL:
            if o <= stop:
                return o
            return stop if lo <= stop else None
        if o >= stop:
            return o
        return stop if h >= stop else None
    assert limit is not None
    if side is Side.SELL:
        if o >= limit:
            return o
        return limit if h >= limit else None
    if o <= limit:
        return o
    return limit if lo <= limit else None


def with_slippage(price: float, side: Side, otype: OrderType, slippage_bps: float) -> float:
    if otype is OrderType.LIMIT or slippage_bps == 0:
        return price
    k = slippage_bps / 10_000.0
    return price * (1 + k) if side is Side.BUY else price * (1 - k)


def commission(qty: float, per_share: float, minimum: float) -> float:
    if per_share == 0 and minimum == 0:
        return 0.0
    return max(abs(qty) * per_share, minimum)
