"""Closing positions (`DELETE /v2/positions[/{symbol}]`) with market orders.

A close is an ordinary `day` market order for the whole position, a `qty` or a
`percentage` of it (whole shares), submitted through the same checks as any order
(https://docs.alpaca.markets/reference/deleteopenposition-1); `close_all` answers the
207 list, one entry per position, optionally after cancelling every open order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bot.emulator.errors import ApiError, invalid, not_found
from bot.emulator.model import EmuOrder

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


def close_position(
    state: EmulatorState, symbol: str, qty: float | None = None, percentage: float | None = None
) -> EmuOrder:
    symbol = symbol.upper()
    if symbol not in state.account.open_symbols():
        raise not_found("position does not exist")
    held = state.account.qty(symbol)
    if qty is not None and percentage is not None:
        raise invalid("only one of qty or percentage may be given")
    amount = abs(held)
    if qty is not None:
        amount = qty
    elif percentage is not None:
        if not 0 < percentage <= 100:
            raise invalid("percentage must be in (0, 100]")
        amount = math.floor(abs(held) * percentage / 100)
    if not 0 < amount <= abs(held) + 1e-9:
        raise invalid(f"qty must be > 0 and at most the position ({abs(held):g})")
    side = "sell" if held > 0 else "buy"
    body = {"symbol": symbol, "qty": amount, "side": side, "type": "market"}
    return state.submit({**body, "time_in_force": "day"})


def close_all(state: EmulatorState, cancel_orders: bool) -> list[dict[str, Any]]:
    if cancel_orders:
        state.cancel_all()
    out: list[dict[str, Any]] = []
    for symbol in state.account.open_symbols():
        try:
            order = close_position(state, symbol)
        except ApiError as exc:
            out.append({"symbol": symbol, "status": exc.status, "body": exc.body()})
        else:
            body = order.to_json()
            out.append({"symbol": symbol, "status": 200, "order_id": order.id, "body": body})
    return out
