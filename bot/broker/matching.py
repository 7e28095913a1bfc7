"""Order matching against one bar: the single copy used by SimBroker and the emulator.

Rules (documented in the README):
- market orders fill at the bar's open (the first price after they were sent);
- a stop triggers when the bar trades through it; if the bar *opens* beyond the stop
  (a gap), the fill is at the open, which is worse than the stop;
- a limit fills when the bar trades through it, at the limit, or at the open if the
  bar opens better than the limit;
- market and stop fills are moved against the trader by `slippage_bps`; limit
  fills are not (a limit price is a promise);
- within one bar (`match_bar`), orders met at the open come first (a gap reaches them
  before anything inside the bar), then placement order, so when a stop and a
  take-profit could both fill, the stop is first; an order that a fill just ended (an
  OCO sibling) is skipped; bracket legs that a fill activates are checked against the
  rest of the same bar.
Both brokers own their orders and what a fill does to them (`fill`); the order in which
a bar meets them, and at what raw price, is decided here and nowhere else.
No state, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from bot.models import Bar, OrderType, Side

# What matching needs of an order: (type, side, limit price, stop price).
Terms = tuple[OrderType, Side, float | None, float | None]


class Matchable(Protocol):
    def terms(self) -> Terms | None:
        """The order as it meets the next price, or None when it is not working."""
        ...


OrderT = TypeVar("OrderT", bound=Matchable)


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


def match_bar(
    orders: Sequence[OrderT], bar: Bar, fill: Callable[[OrderT, float], Iterable[OrderT]]
) -> None:
    """Meet `orders` (in placement order) with `bar`: `fill(order, raw_price)` executes
    one and returns the orders it activated (bracket legs), which then meet the rest of
    the same bar."""
    batch = orders
    o, h, lo = bar.open, bar.high, bar.low
    while batch:
        touched: list[tuple[bool, int, OrderT, float]] = []
        for k, order in enumerate(batch):
            terms = order.terms()
            if terms is None:
                continue
            otype, side, limit, stop = terms
            raw = trigger_price(otype, side, limit, stop, o, h, lo)
            if raw is not None:
                touched.append((raw != o, k, order, raw))
        if not touched:
            return  # the common case: nothing reached
        touched.sort(key=lambda t: (t[0], t[1]))
        activated: list[OrderT] = []
        for _, _, order, raw in touched:
            if order.terms() is not None:  # an OCO sibling may have just ended it
                activated.extend(fill(order, raw))
        batch = activated
