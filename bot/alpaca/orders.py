"""`BrokerOrder`, what the bot needs of an Alpaca order, as plain data, and
`broker_order`, its reading from alpaca-py's `Order`.

Its own module because both the REST client (bot.alpaca.trading) and the trade-updates
stream (bot.alpaca.stream) turn alpaca-py orders into it, and the REST client hands out
the stream: neither can import the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alpaca.trading.models import Order


@dataclass(frozen=True)
class BrokerOrder:
    """What the bot needs of an Alpaca order."""

    id: str
    client_order_id: str
    status: str
    side: str
    qty: float
    filled_qty: float
    filled_avg_price: float | None
    order_type: str
    order_class: str
    stop_price: float | None
    limit_price: float | None
    symbol: str
    legs: tuple[BrokerOrder, ...] = ()


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def broker_order(o: Order) -> BrokerOrder:
    """alpaca-py's order (its legs too) as plain data."""
    return BrokerOrder(
        id=str(o.id),
        client_order_id=o.client_order_id,
        status=str(o.status.value if hasattr(o.status, "value") else o.status),
        side=str(o.side.value if o.side is not None else ""),
        qty=float(o.qty or 0),
        filled_qty=float(o.filled_qty or 0),
        filled_avg_price=_f(o.filled_avg_price),
        order_type=str(o.order_type.value if o.order_type is not None else ""),
        order_class=str(o.order_class.value if o.order_class is not None else "simple"),
        stop_price=_f(o.stop_price),
        limit_price=_f(o.limit_price),
        symbol=o.symbol or "",
        legs=tuple(broker_order(leg) for leg in (o.legs or [])),
    )


__all__ = ["BrokerOrder", "broker_order"]
