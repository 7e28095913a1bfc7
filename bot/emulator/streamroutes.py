"""Wiring the trade-updates stream (bot/emulator/stream.py) into the emulator's app.

`install_stream` adds the WebSocket route `/stream`, the admin route
`GET|POST /_emulator/stream` (the stream's fault knobs, bot/emulator/streamfaults.py,
and its counts; behind the account's keys like every /_emulator route), and an ASGI
middleware that, while someone listens, diffs the order book just before each HTTP
answer starts, so that no answer reaches a client before the events it caused are
queued (an order's `accepted` before the POST returns, an advance's fills before its
answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.emulator.errors import invalid
from bot.emulator.stream import StreamHub

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


class _PollBeforeAnswer:
    """ASGI middleware: while someone listens, diff the book just before an HTTP answer
    starts, so a client never sees an answer before its events are queued."""

    def __init__(self, app: ASGIApp, hub: StreamHub) -> None:
        self.app, self.hub = app, hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.hub.watching:
            await self.app(scope, receive, send)
            return

        async def send_after_poll(message: Message) -> None:
            if message["type"] == "http.response.start":
                await run_in_threadpool(self.hub.poll)
            await send(message)

        await self.app(scope, receive, send_after_poll)


def install_stream(
    app: FastAPI,
    state: EmulatorState,
    auth: Callable[[Request], None],
    api_key: str,
    secret_key: str,
) -> StreamHub:
    """Add `/stream`, `GET|POST /_emulator/stream` (behind `auth`) and the polling
    middleware to `app`; returns the hub (tests may reach it as `app.state.stream`)."""
    hub = StreamHub(state, api_key, secret_key)

    @app.websocket("/stream")
    async def trade_updates(ws: WebSocket) -> None:
        await hub.serve(ws)

    admin = APIRouter(prefix="/_emulator", dependencies=[Depends(auth)])

    # async: the hub lives on the event loop; these touch no order state.
    @admin.get("/stream")
    async def show() -> dict[str, Any]:
        return hub.report()

    @admin.post("/stream")
    async def configure(body: Any = Body(None)) -> dict[str, Any]:
        if body is not None and not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        if hub.faults.configure(body or {}):
            hub.drop()
        return hub.report()

    app.include_router(admin)
    app.add_middleware(_PollBeforeAnswer, hub=hub)
    return hub
