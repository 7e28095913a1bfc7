"""Wiring the market-data stream (bot/emulator/datastream.py) into the emulator's app.

`install_datastream` adds the WebSocket route `/v2/{feed}` (what alpaca-py's
`StockDataStream(url_override=...)` connects to: `ws://127.0.0.1:<port>/v2/iex`, `/v2/sip`
or `/v2/delayed_sip`), the admin route `GET|POST /_emulator/datastream` (behind the
account's keys like every /_emulator route), and an ASGI middleware that queues the
bars an HTTP request's clock move made visible just before its answer starts.

`POST /_emulator/datastream` takes, all checked before any is applied:
- the fault knobs of bot/emulator/streamfaults.py: `drop: true` (close every
  connection now; alpaca-py reconnects with backoff and resubscribes), `silent` (true
  until cleared, or N seconds: the sockets stay open and answer pings, but no market
  data is sent, and what is missed is never sent: the "connected but silent" stream of
  alpacahq/alpaca-py#740, for a dead-man check), `refuse_connects` / `refuse_next`
  (HTTP 429 at the upgrade), `duplicate_rate`, `reorder`, `second_connection` ("error":
  Alpaca's 406, the default here; "refuse": 429 at the upgrade; "allow") and `seed`;
- `updated_bar_rate` (0..1, default 0) and `updated_bar_seed` (datapoints.Revisions);
- `auth_timeout_s` (> 0; default 10, Alpaca's limit), so a test need not wait 10 s.
The answer (and GET) shows the settings, the open connections with their
subscriptions, and counts (connects, authenticated, auth_failures, bars_sent, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, WebSocket
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.emulator.datapoints import REVISION_KEYS
from bot.emulator.datastream import DataHub
from bot.emulator.errors import invalid

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


class _QueueBarsBeforeAnswer:
    """ASGI middleware: while someone is served, queue the bars that are due just before
    an HTTP answer starts, so an advance's answer never overtakes its bars."""

    def __init__(self, app: ASGIApp, hub: DataHub) -> None:
        self.app, self.hub = app, hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.hub.watching:
            await self.app(scope, receive, send)
            return

        async def send_after_poll(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.hub.poll()  # on the event loop, where the hub lives
            await send(message)

        await self.app(scope, receive, send_after_poll)


def install_datastream(
    app: FastAPI,
    state: EmulatorState,
    auth: Callable[[Request], None],
    api_key: str,
    secret_key: str,
) -> DataHub:
    """Add `/v2/{feed}`, `GET|POST /_emulator/datastream` (behind `auth`) and the
    middleware to `app`; returns the hub (tests may reach it as `app.state.datastream`)."""
    hub = DataHub(state, api_key, secret_key)

    @app.websocket("/v2/{feed}")
    async def market_data(ws: WebSocket, feed: str) -> None:
        await hub.serve(ws, feed)

    admin = APIRouter(prefix="/_emulator", dependencies=[Depends(auth)])

    # async: the hub lives on the event loop.
    @admin.get("/datastream")
    async def show() -> dict[str, Any]:
        return hub.report()

    @admin.post("/datastream")
    async def configure(body: Any = Body(None)) -> dict[str, Any]:
        if body is not None and not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        changes = dict(body or {})
        asked = {k: changes.pop(k) for k in REVISION_KEYS if k in changes}
        revisions = hub.revisions.changed(asked)
        timeout = changes.pop("auth_timeout_s", hub.auth_timeout_s)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise invalid("auth_timeout_s must be a number of seconds > 0")
        if not (math.isfinite(timeout) and timeout > 0):
            raise invalid("auth_timeout_s must be a number of seconds > 0")
        drop = hub.faults.configure(changes)  # checks all of its own first
        hub.revisions, hub.auth_timeout_s = revisions, float(timeout)
        if drop:
            hub.drop()
        return hub.report()

    app.include_router(admin)
    app.add_middleware(_QueueBarsBeforeAnswer, hub=hub)
    return hub
