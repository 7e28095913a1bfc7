"""The /v2 trading routes: account, clock, calendar, assets, orders, positions.

Thin: parse the query or body (bot/emulator/query.py), call `EmulatorState` under its
lock (`state.locked()`, which first settles pending cancels and replaces that are due),
return its JSON. Shapes and status codes follow shared/ref/alpaca-api.md: DELETE of one
order is 204 with no body, the bulk deletes are 207 lists. The bars route of the data
API is in bot/emulator/bars.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from bot.data.calendar import calendar_json
from bot.emulator.errors import invalid, not_found
from bot.emulator.faults import Faults
from bot.emulator.market import asset_id
from bot.emulator.orders import MAX_CLIENT_ID
from bot.emulator.query import (
    bool_param,
    choice_param,
    date_param,
    float_param,
    int_param,
    json_object,
    list_param,
    time_param,
)
from bot.emulator.state import EmulatorState


def trading_router(
    state: EmulatorState, auth: Callable[[Request], None], faults: Faults | None = None
) -> APIRouter:
    r = APIRouter(prefix="/v2", dependencies=[Depends(auth)])
    lock = state.locked

    @r.get("/account")
    def account() -> dict[str, Any]:
        with lock():
            return state.account_json()

    @r.get("/clock")
    def clock() -> dict[str, Any]:
        with lock():
            return state.clock_json()

    @r.get("/calendar")
    def calendar(request: Request) -> list[dict[str, str]]:
        q = dict(request.query_params)
        start, end = date_param(q, "start"), date_param(q, "end")
        sessions = state.calendar.sessions(start, end)
        # settlement_date: T+1, the session after each one (one more looked up at the end)
        after = state.calendar.sessions(start, None)[: len(sessions) + 1]
        nxt = [s[0] for s in after[1:]]
        return [
            calendar_json(*s, settles=nxt[k] if k < len(nxt) else None)
            for k, s in enumerate(sessions)
        ]

    @r.get("/assets")
    def assets(request: Request) -> list[dict[str, Any]]:
        q = dict(request.query_params)
        found = [state.market.asset_json(s) for s in state.market.symbols]
        filters = (("status", "status"), ("asset_class", "class"), ("exchange", "exchange"))
        for key, field in filters:
            if key in q:
                found = [a for a in found if str(a[field]).lower() == q[key].lower()]
        return found

    @r.get("/assets/{symbol_or_id}")
    def asset(symbol_or_id: str) -> dict[str, Any]:
        for symbol in state.market.symbols:
            if symbol_or_id.upper() == symbol or symbol_or_id == asset_id(symbol):
                return state.market.asset_json(symbol)
        raise not_found("asset not found")

    @r.post("/orders")
    def submit(body: Any = Body(None)) -> dict[str, Any]:
        with lock():
            order = state.submit(json_object(body))
            if faults is not None and faults.draw_reject():
                order.reject_on_route = True  # accepted now, rejected when routed
            return state.book.to_json(order, nested=True)

    @r.get("/orders")
    def orders(request: Request) -> list[dict[str, Any]]:
        q = dict(request.query_params)
        nested = bool_param(q, "nested")
        side = q.get("side")
        with lock():
            found = state.book.query(
                status=choice_param(q, "status", "open", ("open", "closed", "all")),
                limit=int_param(q, "limit", 50, 1, 500),
                after=time_param(q, "after"),
                until=time_param(q, "until"),
                direction=choice_param(q, "direction", "desc", ("asc", "desc")),
                nested=nested,
                symbols=list_param(q, "symbols"),
                side=None if side is None else choice_param(q, "side", "", ("buy", "sell")),
            )
            return [state.book.to_json(o, nested) for o in found]

    # A literal colon: registered before /orders/{order_id}; it could not match that
    # pattern anyway (no slash), but the order keeps the intent plain.
    @r.get("/orders:by_client_order_id")
    def by_client_id(request: Request) -> dict[str, Any]:
        cid = request.query_params.get("client_order_id")
        if not cid or len(cid) > MAX_CLIENT_ID:
            raise invalid("client_order_id is required")
        with lock():
            return state.book.to_json(state.book.by_client(cid), nested=True)

    @r.get("/orders/{order_id}")
    def get_order(order_id: str, request: Request) -> dict[str, Any]:
        nested = bool_param(dict(request.query_params), "nested")
        with lock():
            return state.book.to_json(state.book.get(order_id), nested)

    @r.patch("/orders/{order_id}")
    def replace(order_id: str, body: Any = Body(None)) -> dict[str, Any]:
        with lock():
            return state.book.to_json(state.replace(order_id, json_object(body)), nested=True)

    @r.delete("/orders/{order_id}", status_code=204)
    def cancel(order_id: str) -> Response:
        with lock():
            state.cancel(order_id)
        return Response(status_code=204)

    @r.delete("/orders")
    def cancel_all() -> JSONResponse:
        with lock():
            return JSONResponse(state.cancel_all(), status_code=207)

    @r.get("/positions")
    def positions() -> list[dict[str, Any]]:
        with lock():
            return state.positions_json()

    @r.get("/positions/{symbol}")
    def position(symbol: str) -> dict[str, Any]:
        with lock():
            return state.position_json(symbol)

    @r.delete("/positions/{symbol}")
    def close(symbol: str, request: Request) -> dict[str, Any]:
        q = dict(request.query_params)
        with lock():
            order = state.close_position(
                symbol, float_param(q, "qty"), float_param(q, "percentage")
            )
            return state.book.to_json(order, nested=True)

    @r.delete("/positions")
    def close_all(request: Request) -> JSONResponse:
        cancel_orders = bool_param(dict(request.query_params), "cancel_orders")
        with lock():
            return JSONResponse(state.close_all(cancel_orders), status_code=207)

    return r
