"""The HTTP face of the emulator: the REST subset of Alpaca that alpaca-py 0.44 calls.

`create_app` wires an `EmulatorState` into FastAPI: trading routes under /v2 (auth by
the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers), the bars route of the data API,
admin routes under /_emulator (bot/emulator/admin.py, same keys), the trade-updates
WebSocket at /stream (bot/emulator/stream.py, streamroutes.py), the market-data WebSocket
at /v2/{feed} (bot/emulator/datastream.py, datastreamroutes.py), and a middleware that counts
requests and injects faults before a request is processed. Endpoints are plain `def`
(uvicorn runs them in a thread pool) and hold `state.lock`; waits for faults are
`asyncio.sleep` in the middleware, so a held request never blocks the others.
Every error body is {"code": int, "message": str}.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from bot.emulator.admin import Stats, admin_router
from bot.emulator.bars import data_router
from bot.emulator.datastreamroutes import install_datastream
from bot.emulator.errors import INVALID, NOT_FOUND, UNAUTHORIZED, ApiError
from bot.emulator.faults import Faults, error_response
from bot.emulator.ratelimit import LIMITED_BODY
from bot.emulator.routes import trading_router
from bot.emulator.state import EmulatorState
from bot.emulator.streamroutes import install_stream

DEFAULT_KEY, DEFAULT_SECRET = "emulator-key", "emulator-secret"
_ORDERS = "/v2/orders"


def create_app(
    state: EmulatorState,
    faults: Faults | None = None,
    api_key: str = DEFAULT_KEY,
    secret_key: str = DEFAULT_SECRET,
    release: threading.Event | None = None,
) -> FastAPI:
    """The emulator app. `release`, when set, ends every held (dropped/black-holed)
    request at once, so that a server can stop without waiting out `drop_hold_s`."""
    faults = faults or Faults()
    release = release or threading.Event()
    stats = Stats()
    app = FastAPI(title="Alpaca emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator, app.state.faults, app.state.stats = state, faults, stats

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse({"code": INVALID, "message": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = NOT_FOUND if exc.status_code == 404 else exc.status_code * 100_000
        return JSONResponse({"code": code, "message": str(exc.detail).lower()}, exc.status_code)

    async def hold(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not release.is_set():
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    @app.middleware("http")
    async def faults_and_stats(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/_emulator"):
            return await call_next(request)
        is_order_post = request.method == "POST" and request.url.path == _ORDERS
        cid = None
        if is_order_post:
            cid = _client_order_id(await request.body())
        stats.record(route_name(request.method, request.url.path), cid)
        # Alpaca's request limit, and its X-RateLimit-* headers on every /v2 answer
        # (bot/emulator/ratelimit.py).
        key = request.headers.get("APCA-API-KEY-ID", "")
        allowed, limits = state.limiter.check(key, request.url.path)
        if not allowed:
            return JSONResponse(LIMITED_BODY, status_code=429, headers=limits)
        if faults.black_hole:
            await hold(faults.drop_hold_s)
            body = {"code": 50410000, "message": "black hole"}
            return JSONResponse(body, status_code=504, headers=limits)
        if faults.delay_s > 0:
            await asyncio.sleep(faults.delay_s)
        status = faults.draw_error()
        if status is not None:
            body, headers = error_response(status)
            return JSONResponse(body, status_code=status, headers={**limits, **headers})
        drop = is_order_post and faults.draw_drop()
        response = await call_next(request)
        response.headers.update(limits)
        if drop:
            # The order exists now; the client gives up before this answer comes.
            await hold(faults.drop_hold_s)
        return response

    def check_auth(request: Request) -> None:
        key = request.headers.get("APCA-API-KEY-ID")
        secret = request.headers.get("APCA-API-SECRET-KEY")
        if key != api_key or secret != secret_key:
            if state.forbidden_style:  # Alpaca's other answer to wrong keys: no code at all
                raise ApiError(403, None, "forbidden.")
            raise ApiError(401, UNAUTHORIZED, "request is not authorized")

    app.include_router(trading_router(state, check_auth, faults))
    app.include_router(data_router(state, check_auth))
    # The admin routes move the clock, reset the account and inject faults: they need the
    # same keys as the account (a local process without them cannot touch the replay).
    app.include_router(admin_router(state, faults, stats), dependencies=[Depends(check_auth)])
    # Alpaca's trade-updates stream and its fault knobs (GET|POST /_emulator/stream).
    app.state.stream = install_stream(app, state, check_auth, api_key, secret_key)
    # Alpaca's market-data stream of the replayed minute bars (GET|POST /_emulator/datastream).
    app.state.datastream = install_datastream(app, state, check_auth, api_key, secret_key)
    return app


def _client_order_id(raw: bytes) -> str | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    cid = body.get("client_order_id") if isinstance(body, dict) else None
    return cid if isinstance(cid, str) else None


_PARAMS = {"orders": "{order_id}", "assets": "{symbol_or_id}", "positions": "{symbol}"}


def route_name(method: str, path: str) -> str:
    """The route template a request is counted under, e.g. "GET /v2/orders/{order_id}"."""
    parts = path.rstrip("/").split("/")
    if len(parts) == 4 and parts[1] == "v2" and parts[2] in _PARAMS:
        parts[3] = _PARAMS[parts[2]]
    return f"{method} {'/'.join(parts)}"
