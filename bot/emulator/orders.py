"""The validation of a `POST /v2/orders` or `PATCH /v2/orders/{id}` body.

`parse_order` turns the JSON alpaca-py sends (numbers as floats or strings, optional
nested `take_profit`/`stop_loss`) into an `OrderSpec`, or raises the 422 Alpaca would
answer. Order classes: simple, bracket, oto, and oco (an exit pair for a position held:
a take-profit limit and a stop-loss stop; see `_oco`). What needs the account (buying
power, qty available, unknown symbol, duplicate client order id) is checked by
`EmulatorState`. The order as the emulator keeps it, `EmuOrder`, is in
bot/emulator/model.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.emulator.errors import UNPROCESSABLE, ApiError, invalid
from bot.emulator.model import OPEN, PENDING, WORKING, EmuOrder
from bot.models import OrderType, Side

# The order model lives in bot/emulator/model.py; these names are kept here for callers.
__all__ = ["OPEN", "PENDING", "WORKING", "EmuOrder", "OrderSpec", "ReplaceSpec", "parse_order"]

MAX_CLIENT_ID = 128
_UNSUPPORTED_TYPES = {"stop_limit", "trailing_stop"}
_UNSUPPORTED_TIF = {"opg", "cls", "ioc", "fok"}


def _num(body: dict[str, Any], key: str, where: str = "") -> float | None:
    """A price or quantity sent as a JSON number or a decimal string (both are legal)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"{where}{key} must be a number")
    try:
        return float(value)
    except ValueError:
        raise invalid(f"{where}{key} must be a number, got {value!r}") from None


def _positive(value: float | None, name: str) -> float:
    if value is None or not value > 0:
        raise invalid(f"{name} must be > 0")
    return value


def check_increment(value: float | None, name: str) -> None:
    """Refuse a sub-penny price: at most 2 decimals from $1.00 up, 4 below, as Alpaca
    answers with 422 42210000 "invalid <field> <price>. sub-penny increment does not
    fulfill minimum pricing criteria" (Alpaca's buy rounding rule, 2 decimals over $1.00
    and 4 under, https://docs.alpaca.markets/docs/orders-at-alpaca, market orders; SEC
    Rule 612). A float sent by alpaca-py is judged by its shortest repr, so 9.05 passes
    and 9.050000190734863 (a float32 artefact) is refused, as it is at Alpaca."""
    if value is None:
        return
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > (2 if value >= 1.0 else 4):
        raise ApiError(
            422,
            UNPROCESSABLE,
            f"invalid {name} {value!r}. sub-penny increment does not fulfill minimum "
            "pricing criteria",
        )


@dataclass(frozen=True)
class OrderSpec:
    """A well-formed order request (not yet checked against the account)."""

    symbol: str
    qty: float
    side: Side
    type: OrderType
    time_in_force: str
    order_class: str = "simple"
    limit_price: float | None = None
    stop_price: float | None = None
    take_profit: float | None = None  # bracket/oto leg (oco: the order itself): limit price
    stop_loss: float | None = None  # bracket/oto/oco leg: stop price
    extended_hours: bool = False
    client_order_id: str | None = None


def parse_order(body: dict[str, Any], strict: bool = True) -> OrderSpec:
    """Validate the request body; raise 422/40010001 with Alpaca-style wording. With
    `strict` (`state.order_refusals`), also refuse sub-penny prices and extended hours
    on bracket/OTO/OCO orders (422 42210000)."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise invalid("symbol is required")
    if body.get("notional") is not None:
        raise invalid("notional orders are not supported by the emulator; send qty")
    qty = _positive(_num(body, "qty"), "qty")
    if not qty.is_integer():
        raise invalid(f"fractional orders are not supported: {symbol} is not fractionable")
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise invalid(f"invalid side {side!r}")
    otype = body.get("type", body.get("order_type"))
    if otype in _UNSUPPORTED_TYPES:
        raise invalid(f"order type {otype} is not supported by the emulator")
    if otype not in ("market", "limit", "stop"):
        raise invalid(f"invalid order type {otype!r}")
    tif = body.get("time_in_force")
    if tif in _UNSUPPORTED_TIF:
        raise invalid(f"time_in_force {tif} is not supported by the emulator")
    if tif not in ("day", "gtc"):
        raise invalid(f"invalid time_in_force {tif!r}")
    limit, stop = _num(body, "limit_price"), _num(body, "stop_price")
    take_profit, stop_loss = _legs(body)
    oclass = str(body.get("order_class") or "simple")
    if oclass == "oco":
        limit = _oco(otype, side, limit, take_profit, stop_loss)
    if otype == "limit":
        _positive(limit, "limit price")
    elif limit is not None:
        raise invalid(f"limit_price is not allowed for {otype} orders")
    if otype == "stop":
        _positive(stop, "stop price")
    elif stop is not None:
        raise invalid(f"stop_price is not allowed for {otype} orders")
    prices = {
        "limit_price": limit,
        "stop_price": stop,
        "take_profit.limit_price": take_profit,
        "stop_loss.stop_price": stop_loss,
    }
    for name, price in prices.items() if strict else ():
        check_increment(price, name)
    extended = body.get("extended_hours") in (True, "true", "True")
    if strict and extended and oclass != "simple":
        # "Extended hours are not supported. `extended_hours` must be "false" or omitted"
        # for bracket orders, and OTO/OCO follow the bracket rules
        # (https://docs.alpaca.markets/docs/orders-at-alpaca, bracket, OCO and OTO orders).
        # Alpaca's paper server has been seen to let it through (roboquant#68); live
        # refuses it, and the emulator is never kinder than live.
        raise ApiError(422, UNPROCESSABLE, f"extended hours are not supported for {oclass} orders")
    if extended and (otype != "limit" or tif != "day"):
        raise invalid('only type="limit" is allowed for extended hours orders')
    cid = body.get("client_order_id")
    if cid is not None and (not isinstance(cid, str) or not cid):
        raise invalid("client_order_id must be a non-empty string")
    if cid is not None and len(cid) > MAX_CLIENT_ID:
        raise invalid(f"client_order_id must be no more than {MAX_CLIENT_ID} characters")
    return OrderSpec(
        symbol.strip().upper(),
        qty,
        Side(side),
        OrderType(otype),
        tif,
        oclass,
        limit,
        stop,
        take_profit,
        stop_loss,
        extended,
        cid,
    )


def _legs(body: dict[str, Any]) -> tuple[float | None, float | None]:
    """The take-profit limit and stop-loss stop of a bracket/oto order, checked for shape."""
    oclass = body.get("order_class") or "simple"
    tp_body, sl_body = body.get("take_profit"), body.get("stop_loss")
    for name, leg in (("take_profit", tp_body), ("stop_loss", sl_body)):
        if leg is not None and not isinstance(leg, dict):
            raise invalid(f"{name} must be an object")
    tp = _num(tp_body, "limit_price", "take_profit.") if tp_body else None
    sl = _num(sl_body, "stop_price", "stop_loss.") if sl_body else None
    if sl_body and sl_body.get("limit_price") is not None:
        raise invalid("stop_loss.limit_price (a stop-limit leg) is not supported by the emulator")
    if oclass == "simple":
        if tp_body or sl_body:
            raise invalid("take_profit and stop_loss need order_class bracket or oto")
        return None, None
    if oclass in ("bracket", "oco"):
        if tp is None or sl is None:
            raise invalid(f"{oclass} orders need take_profit.limit_price and stop_loss.stop_price")
    elif oclass == "oto":
        if (tp is None) == (sl is None):
            raise invalid("oto orders need exactly one of take_profit or stop_loss")
    else:
        raise invalid(f"invalid order_class {oclass!r}")
    if tp is not None:
        _positive(tp, "take_profit.limit_price")
    if sl is not None:
        _positive(sl, "stop_loss.stop_price")
    return tp, sl


def _oco(
    otype: Any, side: Any, limit: float | None, tp: float | None, sl: float | None
) -> float | None:
    """The limit price of an OCO order, checked. Alpaca documents OCO as the exit of a
    position already held: `type: limit`, the take-profit limit in `take_profit.limit_price`
    (the order's own `limit_price` may be left out: alpaca-py does not require it for oco,
    and when given it must be the same), the stop in `stop_loss.stop_price`; a sell OCO
    closes a long, a buy OCO a short, so the stop sits below the limit for a sell and
    above it for a buy. https://docs.alpaca.markets/docs/orders-at-alpaca (OCO orders)."""
    if otype != "limit":
        raise invalid('oco orders must be type "limit"')
    if tp is None or sl is None:  # _legs has refused this already
        raise invalid("oco orders need take_profit.limit_price and stop_loss.stop_price")
    if limit is not None and abs(limit - tp) > 1e-9:
        raise invalid("limit_price must equal take_profit.limit_price for oco orders")
    if side == "sell" and not sl < tp:
        raise invalid("stop_loss.stop_price must be below take_profit.limit_price (sell oco)")
    if side == "buy" and not sl > tp:
        raise invalid("stop_loss.stop_price must be above take_profit.limit_price (buy oco)")
    return tp


@dataclass(frozen=True)
class ReplaceSpec:
    """The fields a `PATCH /v2/orders/{id}` may change (None: keep)."""

    qty: float | None = None
    time_in_force: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    client_order_id: str | None = None


def parse_replace(body: dict[str, Any], strict: bool = True) -> ReplaceSpec:
    """The fields of a PATCH body, checked; with `strict`, no sub-penny prices."""
    if body.get("trail") is not None:
        raise invalid("trail is not supported by the emulator")
    qty = _num(body, "qty")
    if qty is not None:
        _positive(qty, "qty")
        if not qty.is_integer():
            raise invalid("fractional orders are not supported")
    tif = body.get("time_in_force")
    if tif is not None and tif not in ("day", "gtc"):
        raise invalid(f"invalid time_in_force {tif!r}")
    limit, stop = _num(body, "limit_price"), _num(body, "stop_price")
    if limit is not None:
        _positive(limit, "limit price")
    if stop is not None:
        _positive(stop, "stop price")
    for name, price in {"limit_price": limit, "stop_price": stop}.items() if strict else ():
        check_increment(price, name)
    cid = body.get("client_order_id")
    if cid is not None and (not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ID):
        raise invalid(f"client_order_id must be a string of 1 to {MAX_CLIENT_ID} characters")
    return ReplaceSpec(qty, tif, limit, stop, cid)
