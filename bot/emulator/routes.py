"""The /v2 routes: trading (account, clock, calendar, assets, orders, positions) and bars.

Thin: parse the query or body (alpaca-py writes booleans as `True`, lists as `A,B`,
times as ISO 8601 with an offset; naive means UTC), call `EmulatorState` under its
lock, return its JSON. Shapes and status codes follow shared/ref/alpaca-api.md:
DELETE of one order is 204 with no body, the bulk deletes are 207 lists.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from bot.calendar import calendar_json
from bot.emulator.errors import invalid, not_found
from bot.emulator.jsonfmt import parse_time
from bot.emulator.market import asset_id
from bot.emulator.orders import MAX_CLIENT_ID
from bot.emulator.state import EmulatorState
from bot.models import ET, et_to_ns

Query = dict[str, str]
_TIMEFRAMES = {"1Day": "1d", "1D": "1d", "1Min": "1m", "1T": "1m"}


def _bool(q: Query, name: str, default: bool = False) -> bool:
    text = q.get(name)
    if text is None:
        return default
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise invalid(f"{name} must be true or false, got {text!r}")


def _int(q: Query, name: str, default: int, lo: int, hi: int) -> int:
    text = q.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(f"{name} must be an integer, got {text!r}") from None
    if not lo <= value <= hi:
        raise invalid(f"{name} must be between {lo} and {hi}")
    return value


def _float(q: Query, name: str) -> float | None:
    text = q.get(name)
    try:
        return None if text is None else float(text)
    except ValueError:
        raise invalid(f"{name} must be a number, got {text!r}") from None


def _time(q: Query, name: str) -> datetime | None:
    text = q.get(name)
    return None if text is None else parse_time(text, name)


def _date(q: Query, name: str) -> date | None:
    when = _time(q, name)
    return None if when is None else when.date()


def _choice(q: Query, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = q.get(name, default).lower()
    if value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _list(q: Query, name: str) -> list[str] | None:
    text = q.get(name)
    return [s.strip().upper() for s in text.split(",") if s.strip()] if text else None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def trading_router(state: EmulatorState, auth: Callable[[Request], None]) -> APIRouter:
    r = APIRouter(prefix="/v2", dependencies=[Depends(auth)])
    lock = state.lock

    @r.get("/account")
    def account() -> dict[str, Any]:
        with lock:
            return state.account_json()

    @r.get("/clock")
    def clock() -> dict[str, Any]:
        with lock:
            return state.clock_json()

    @r.get("/calendar")
    def calendar(request: Request) -> list[dict[str, str]]:
        q = dict(request.query_params)
        sessions = state.calendar.sessions(_date(q, "start"), _date(q, "end"))
        return [calendar_json(*s) for s in sessions]

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
        with lock:
            order = state.submit(_object(body))
            return state.book.to_json(order, nested=True)

    @r.get("/orders")
    def orders(request: Request) -> list[dict[str, Any]]:
        q = dict(request.query_params)
        nested = _bool(q, "nested")
        side = q.get("side")
        with lock:
            found = state.book.query(
                status=_choice(q, "status", "open", ("open", "closed", "all")),
                limit=_int(q, "limit", 50, 1, 500),
                after=_time(q, "after"),
                until=_time(q, "until"),
                direction=_choice(q, "direction", "desc", ("asc", "desc")),
                nested=nested,
                symbols=_list(q, "symbols"),
                side=None if side is None else _choice(q, "side", "", ("buy", "sell")),
            )
            return [state.book.to_json(o, nested) for o in found]

    # A literal colon: registered before /orders/{order_id}; it could not match that
    # pattern anyway (no slash), but the order keeps the intent plain.
    @r.get("/orders:by_client_order_id")
    def by_client_id(request: Request) -> dict[str, Any]:
        cid = request.query_params.get("client_order_id")
        if not cid or len(cid) > MAX_CLIENT_ID:
            raise invalid("client_order_id is required")
        with lock:
            return state.book.to_json(state.book.by_client(cid), nested=True)

    @r.get("/orders/{order_id}")
    def get_order(order_id: str, request: Request) -> dict[str, Any]:
        nested = _bool(dict(request.query_params), "nested")
        with lock:
            return state.book.to_json(state.book.get(order_id), nested)

    @r.patch("/orders/{order_id}")
    def replace(order_id: str, body: Any = Body(None)) -> dict[str, Any]:
        with lock:
            return state.book.to_json(state.replace(order_id, _object(body)), nested=True)

    @r.delete("/orders/{order_id}", status_code=204)
    def cancel(order_id: str) -> Response:
        with lock:
            state.cancel(order_id)
        return Response(status_code=204)

    @r.delete("/orders")
    def cancel_all() -> JSONResponse:
        with lock:
            return JSONResponse(state.cancel_all(), status_code=207)

    @r.get("/positions")
    def positions() -> list[dict[str, Any]]:
        with lock:
            return state.positions_json()

    @r.get("/positions/{symbol}")
    def position(symbol: str) -> dict[str, Any]:
        with lock:
            return state.position_json(symbol)

    @r.delete("/positions/{symbol}")
    def close(symbol: str, request: Request) -> dict[str, Any]:
        q = dict(request.query_params)
        with lock:
            order = state.close_position(symbol, _float(q, "qty"), _float(q, "percentage"))
            return state.book.to_json(order, nested=True)

    @r.delete("/positions")
    def close_all(request: Request) -> JSONResponse:
        cancel_orders = _bool(dict(request.query_params), "cancel_orders")
        with lock:
            return JSONResponse(state.close_all(cancel_orders), status_code=207)

    return r


def data_router(state: EmulatorState, auth: Callable[[Request], None]) -> APIRouter:
    r = APIRouter(prefix="/v2/stocks", dependencies=[Depends(auth)])

    @r.get("/bars")
    def bars(request: Request) -> dict[str, Any]:
        """Historical bars of the symbols, only those that have closed by the clock."""
        q = dict(request.query_params)
        symbols = _list(q, "symbols")
        if not symbols:
            raise invalid("symbols is required")
        tf = _TIMEFRAMES.get(q.get("timeframe", ""))
        if tf is None:
            raise invalid(f"invalid timeframe {q.get('timeframe')!r}: the emulator has 1Day, 1Min")
        limit = _int(q, "limit", 1000, 1, 10_000)
        offset = _decode_token(q.get("page_token"))
        descending = _choice(q, "sort", "asc", ("asc", "desc")) == "desc"
        with state.lock:
            now = state.now_ns
            start, end = _time(q, "start"), _time(q, "end")
            # Alpaca's default start is the beginning of the current day.
            midnight = datetime.combine(state.now.astimezone(ET).date(), time(0), tzinfo=ET)
            span = (et_to_ns(start or midnight), et_to_ns(end) if end else now, now)
            size = min(limit, state.bars_page_size)
            found, nxt = state.market.bars_page(symbols, tf, span, size, offset, descending)
        return {"bars": found, "next_page_token": None if nxt is None else _encode_token(nxt)}

    return r


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, value = text.partition(":")
        if kind == "offset" and int(value) >= 0:
            return int(value)
    except ValueError:
        pass
    raise invalid("invalid page_token")
