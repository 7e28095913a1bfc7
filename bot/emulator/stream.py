"""Alpaca's trade-updates WebSocket, served by the emulator at `/stream`.

The protocol (https://docs.alpaca.markets/docs/websocket-streaming; alpaca-py 0.44's
TradingStream speaks it unchanged, shared/ref/alpaca-api.md section 4), JSON in binary
frames, as the paper endpoint sends them ("uses binary frames" in that doc):

    C> {"action": "authenticate", "data": {"key_id": K, "secret_key": S}}
    S> {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}
       (wrong keys: "status": "unauthorized", then the socket is closed, code 1008)
    C> {"action": "listen", "data": {"streams": ["trade_updates"]}}
    S> {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    S> {"stream": "trade_updates", "data": {"event": E, "timestamp": T, "order": {...},
        and for fill / partial_fill "execution_id", "price", "qty", "position_qty"}}

A listen with no streams stops the updates ("send an empty list", same doc). The keys
must come within `AUTH_TIMEOUT_S`. What a second connection gets (one per account) and
the faults are the knobs of bot/emulator/streamfaults.py, at `GET|POST /_emulator/stream`
(the account's keys; bot/emulator/streamroutes.py wires it all into the app), which
also counts connects, refusals, auth failures, events sent.

Events come from `OrderWatch` (bot/emulator/events.py), which diffs the order book. It
is polled only while someone listens: before each HTTP answer goes out (so an order's
`accepted` is queued before the POST returns, and an advance's fills before its
answer), and every `TICK_S` for what the wall clock changes (a `pending_cancel` whose
latency ran out becomes `canceled` with no request). A listener that starts takes the
book as it stands: what happened while nobody listened is not replayed, as at Alpaca.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from bot.emulator.errors import RATE_LIMITED
from bot.emulator.events import OrderWatch
from bot.emulator.streamfaults import StreamFaults

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

LOG = logging.getLogger("bot.emulator.stream")
TICK_S = 0.05  # how often the wall-clock transitions are looked for
AUTH_TIMEOUT_S = 10.0  # the data stream's documented limit; none is given for this one
TRADE_UPDATES = "trade_updates"


def _frame(stream: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


def _authorization(status: str, action: str = "authenticate", **extra: str) -> bytes:
    return _frame("authorization", {"action": action, "status": status, **extra})


@dataclass(eq=False)
class Connection:
    ws: WebSocket
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)  # None: drop
    authorized: bool = False
    listening: bool = False


class StreamHub:
    """The open stream connections of the (one) account, and what is sent to them."""

    def __init__(
        self,
        state: EmulatorState,
        api_key: str,
        secret_key: str,
        faults: StreamFaults | None = None,
    ) -> None:
        self.watch = OrderWatch(state)
        self.faults = faults or StreamFaults()
        self._keys = (api_key, secret_key)
        self.conns: set[Connection] = set()
        self.stats: Counter[str] = Counter()
        self.watching = False  # read by the HTTP layer: poll only while someone listens
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.Task[None] | None = None
        self._thread_lock = threading.Lock()  # one poll at a time, across worker threads

    # -- polling (worker threads) -------------------------------------------------------
    def poll(self) -> None:
        """Diff the book and hand the events to the event loop, in poll order (one lock,
        and call_soon_threadsafe keeps the order the batches were made in)."""
        with self._thread_lock:
            if not self.watching or self._loop is None:
                return
            try:
                events = self.watch.poll()
            except Exception:  # the stream must never fail a REST request
                LOG.exception("trade-updates watcher failed; this poll's events are lost")
                return
            if events:
                self._loop.call_soon_threadsafe(self._deliver, events)

    def _start_watching(self) -> None:
        with self._thread_lock:
            if not self.watching:
                self.watch.baseline()
                self.watching = True

    # -- delivery (event loop) ----------------------------------------------------------
    def _idle_check(self) -> None:
        if not any(c.listening for c in self.conns):
            self.watching = False  # the timer ends; the next listener re-baselines

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        listeners = [c for c in self.conns if c.listening]
        if not listeners:
            return
        if self.faults.silent:
            self.stats["events_silenced"] += len(events)
            return
        frames = self.faults.shape([_frame(TRADE_UPDATES, e) for e in events])
        for conn in listeners:
            for frame in frames:
                conn.queue.put_nowait(frame)
        self.stats["events_sent"] += len(frames) * len(listeners)

    async def _tick(self) -> None:
        while self.watching:
            await asyncio.sleep(TICK_S)
            await run_in_threadpool(self.poll)

    def drop(self) -> None:
        """Close every connection that is past authentication now (a fault)."""
        for conn in [c for c in self.conns if c.authorized]:
            conn.queue.put_nowait(None)
            self.stats["dropped"] += 1

    def report(self) -> dict[str, Any]:
        return {
            **self.faults.as_dict(),
            "connections": len(self.conns),
            "listeners": sum(c.listening for c in self.conns),
            "stats": dict(self.stats),
        }

    # -- one connection -----------------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        self._loop = asyncio.get_running_loop()
        self.stats["attempts"] += 1
        # One trade_updates connection per account; more, and reconnect storms, got HTTP
        # 429 at the upgrade (alpacahq/alpaca-py#740). Refused here, before accept().
        crowded = self.faults.second_connection == "refuse" and self.conns
        if self.faults.draw_refusal() or crowded:
            self.stats["refused"] += 1
            body = {"code": RATE_LIMITED, "message": "too many requests"}
            await ws.send_denial_response(JSONResponse(body, status_code=429))
            return
        await ws.accept()
        conn = Connection(ws)
        self.conns.add(conn)
        self.stats["connects"] += 1
        try:
            if await self._authenticate(conn):
                await self._converse(conn)
        except WebSocketDisconnect:
            pass
        finally:
            self.conns.discard(conn)
            self._idle_check()

    async def _authenticate(self, conn: Connection) -> bool:
        try:
            msg = await asyncio.wait_for(_receive(conn.ws), AUTH_TIMEOUT_S)
        except TimeoutError:
            await conn.ws.close(1008, "authentication timeout")
            return False
        action = str(msg.get("action", "")) if msg else ""
        data = msg.get("data") if msg else None
        keys = (data.get("key_id"), data.get("secret_key")) if isinstance(data, dict) else None
        if action != "authenticate" or keys != self._keys:  # status must be "authorized"
            self.stats["auth_failures"] += 1
            await conn.ws.send_bytes(_authorization("unauthorized", action or "authenticate"))
            await conn.ws.close(1008, "unauthorized")
            return False
        others = [c for c in self.conns if c.authorized]
        if self.faults.second_connection == "error" and others:
            self.stats["refused"] += 1
            limit = "connection limit exceeded"
            await conn.ws.send_bytes(_authorization("unauthorized", error=limit))
            await conn.ws.close(1008, limit)
            return False
        conn.authorized = True
        self.stats["authorized"] += 1
        await conn.ws.send_bytes(_authorization("authorized"))
        return True

    async def _converse(self, conn: Connection) -> None:
        await converse(self._read(conn), self._write(conn))

    async def _read(self, conn: Connection) -> None:
        while True:
            msg = await _receive(conn.ws)
            data = msg.get("data") if msg else None
            if not msg or msg.get("action") != "listen" or not isinstance(data, dict):
                continue  # nothing else is asked of this stream after authentication
            asked = data.get("streams")
            streams = [TRADE_UPDATES] if isinstance(asked, list) and TRADE_UPDATES in asked else []
            conn.listening = bool(streams)  # before any await: a closing neighbour sees it
            if streams:
                await run_in_threadpool(self._start_watching)
                if self._timer is None or self._timer.done():
                    self._timer = asyncio.create_task(self._tick())
            else:
                self._idle_check()
            # Through the queue, behind any event already in it: one writer per socket.
            conn.queue.put_nowait(_frame("listening", {"streams": streams}))

    async def _write(self, conn: Connection) -> None:
        while True:
            frame = await conn.queue.get()
            if frame is None:
                await conn.ws.close(1011, "dropped by the emulator (fault)")
                return
            await conn.ws.send_bytes(frame)


async def _receive(ws: WebSocket) -> dict[str, Any] | None:
    """The next client message as a JSON object (None if it is not one)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text") or message.get("bytes") or b""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


async def converse(read: Coroutine[Any, Any, None], write: Coroutine[Any, Any, None]) -> None:
    """Run a connection's reader and writer until either ends (both streams of the
    emulator, trade updates and market data): the other is cancelled; a disconnect is an
    end, any other error is raised."""
    tasks = {asyncio.create_task(read), asyncio.create_task(write)}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        exc = None if task.cancelled() else task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            raise exc
