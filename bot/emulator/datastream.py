"""Alpaca's market-data WebSocket, served by the emulator at `/v2/{feed}` from its minute bars.

alpaca-py's `StockDataStream(url_override="ws://127.0.0.1:<port>/v2/iex")` speaks to it
unchanged. The protocol (https://docs.alpaca.markets/docs/streaming-market-data; the
frames and codes in bot/emulator/datawire.py):

    S> [{"T":"success","msg":"connected"}]           on connect
    C> {"action":"auth","key":K,"secret":S}           within AUTH_TIMEOUT_S ("you only
                                                      have 10 seconds"), else 404 and close
    S> [{"T":"success","msg":"authenticated"}]        or an error: 402 wrong keys, 403
                                                      twice, 409 a feed the plan lacks, 406
                                                      a second session on the endpoint
    C> {"action":"subscribe","bars":["BABA"],...}     401 before auth, 400 malformed,
    S> [{"T":"subscription",...every channel...}]     405 over the free plan's 30 symbols
    S> [{"T":"b","S":"BABA","o":..,"t":..}, ...]      bars as the replay clock passes them

Feeds (https://docs.alpaca.markets/docs/real-time-stock-pricing-data, URL section): `iex`
real time on any plan; `sip` real time, refused at authentication with 409
"insufficient subscription" on the free plan ("Any attempt to access a data feed not
available for your subscription will result in an error during authentication"; the
free plan is "IEX only", and recent SIP data needs Algo Trader Plus:
https://docs.alpaca.markets/docs/market-data-faq); `delayed_sip`, "a 15-minute delayed
SIP feed", served on any plan (the docs name no plan for it; the REST API serves it to
the free plan). Another path is refused with HTTP 404 at the upgrade, as Alpaca refuses
an unknown feed. All feeds carry the same bars (as the REST API does, bars.py).

Each connection has a cursor: the feed time up to which it has been served, set when it
authenticates (nothing from before is replayed, as at Alpaca) and moved by `poll`, which
runs before each HTTP answer (an advance's bars are queued before its answer returns)
and every TICK_S (a clock moved in-process). A clock moved back (a reset) just moves the
cursor back. One writer per socket sends the queued frames in order. Fault knobs
(drop, silence, refusals, duplicates, order; bot/emulator/streamfaults.py) and the
revision rate (datapoints.Revisions) are set at `POST /_emulator/datastream`.
Runs on the server's event loop only (no locks); the replay clock is read, never set.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from bot.emulator import datawire as wire
from bot.emulator.bars import FEEDS, SIP_DELAY_NS
from bot.emulator.datapoints import CHANNEL, Revisions, batches, points
from bot.emulator.errors import NOT_FOUND, RATE_LIMITED
from bot.emulator.stream import converse
from bot.emulator.streamfaults import StreamFaults

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

TICK_S = 0.05
AUTH_TIMEOUT_S = 10.0  # "you only have 10 seconds to do so after connecting"


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass(eq=False)
class DataConnection:
    ws: WebSocket
    feed: str
    codec: wire.Codec
    queue: asyncio.Queue[bytes | Close] = field(default_factory=asyncio.Queue)
    authenticated: bool = False
    closing: bool = False  # dropped or refused: nothing more is queued
    cursor: int = 0  # feed time (UTC ns) served up to
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in wire.SUBSCRIBABLE})

    def wants(self, channel: str, symbol: str) -> bool:
        chosen = self.subs[channel]
        return symbol in chosen or "*" in chosen

    def send(self, *messages: dict[str, Any]) -> None:
        self.queue.put_nowait(self.codec.encode(list(messages)))

    def close(self, code: int, reason: str) -> None:
        self.closing = True
        self.queue.put_nowait(Close(code, reason))


class DataHub:
    """The open market-data connections, and the bars sent to them."""

    def __init__(
        self,
        state: EmulatorState,
        api_key: str,
        secret_key: str,
        faults: StreamFaults | None = None,
    ) -> None:
        self.state = state
        # Alpaca answers a second session on an endpoint with 406 (the streaming page,
        # "Connection limit"): "error" is this stream's default.
        self.faults = faults or StreamFaults(second_connection="error")
        self.revisions = Revisions()
        self.auth_timeout_s = AUTH_TIMEOUT_S
        self._keys = (api_key, secret_key)
        self.conns: set[DataConnection] = set()
        self.stats: Counter[str] = Counter()
        self._timer: asyncio.Task[None] | None = None

    @property
    def watching(self) -> bool:
        return any(c.authenticated and not c.closing for c in self.conns)

    def visible(self, feed: str) -> int:
        """The feed's clock: bars that ended by then may be sent."""
        now = self.state.now_ns
        return now - SIP_DELAY_NS if feed == "delayed_sip" else now

    # -- bars -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Queue, for every served connection, the points between its cursor and now."""
        for conn in [c for c in self.conns if c.authenticated and not c.closing]:
            self._serve(conn, self.visible(conn.feed))

    def _serve(self, conn: DataConnection, upto: int) -> None:
        if upto <= conn.cursor:  # nothing new, or the clock went back (a reset)
            conn.cursor = upto
            return
        found = points(self.state.market, conn.wants, self.revisions, conn.cursor, upto)
        conn.cursor = upto
        if not found:
            return
        if self.faults.silent:  # lost, not delayed: a mute socket loses what it misses
            self.stats["silenced"] += len(found)
            return
        for frame in self.faults.shape([conn.codec.encode(b) for b in batches(found)]):
            conn.queue.put_nowait(frame)
        for p in found:
            self.stats[f"{CHANNEL[p.kind]}_sent"] += 1

    async def _tick(self) -> None:
        while self.watching:
            await asyncio.sleep(TICK_S)
            self.poll()

    def drop(self) -> None:
        """Close every open connection now (a fault); nothing more is sent to them."""
        for conn in [c for c in self.conns if not c.closing]:
            conn.close(1011, "dropped by the emulator (fault)")
            self.stats["dropped"] += 1

    def report(self) -> dict[str, Any]:
        conns = [
            {
                "feed": c.feed,
                "authenticated": c.authenticated,
                "msgpack": c.codec.binary,
                **{ch: sorted(c.subs[ch]) for ch in wire.SUBSCRIBABLE},
            }
            for c in self.conns
            if not c.closing
        ]
        return {
            **self.faults.as_dict(),
            **self.revisions.as_dict(),
            "auth_timeout_s": self.auth_timeout_s,
            "connections": conns,
            "stats": dict(self.stats),
        }

    # -- one connection -------------------------------------------------------------------
    async def serve(self, ws: WebSocket, feed: str) -> None:
        self.stats["attempts"] += 1
        if feed not in FEEDS:
            body = {"code": NOT_FOUND, "message": f"unknown feed {feed!r}"}
            await ws.send_denial_response(JSONResponse(body, status_code=404))
            return
        crowded = self.faults.second_connection == "refuse" and self._others(feed)
        if self.faults.draw_refusal() or crowded:  # as the trade stream (#740): 429
            self.stats["refused"] += 1
            body = {"code": RATE_LIMITED, "message": "too many requests"}
            await ws.send_denial_response(JSONResponse(body, status_code=429))
            return
        await ws.accept()
        conn = DataConnection(ws, feed, wire.Codec(ws.headers.get("content-type")))
        self.conns.add(conn)
        self.stats["connects"] += 1
        conn.send(wire.success("connected"))
        deadline = asyncio.get_running_loop().call_later(
            self.auth_timeout_s, self._auth_timeout, conn
        )
        try:
            await self._converse(conn)
        except WebSocketDisconnect:
            pass
        finally:
            deadline.cancel()
            self.conns.discard(conn)

    def _others(self, feed: str) -> list[DataConnection]:
        return [c for c in self.conns if c.feed == feed and c.authenticated and not c.closing]

    def _auth_timeout(self, conn: DataConnection) -> None:
        if not conn.authenticated and not conn.closing:
            self.stats["auth_timeouts"] += 1
            conn.send(wire.error(wire.AUTH_TIMEOUT))
            conn.close(1008, "auth timeout")

    async def _converse(self, conn: DataConnection) -> None:
        """Read the client's messages and write the queued frames, until either ends."""
        await converse(self._read(conn), self._write(conn))

    async def _read(self, conn: DataConnection) -> None:
        while True:
            message = await conn.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if conn.closing:
                continue
            try:
                msg = wire.decode(message)
            except ValueError:
                msg = None
            action = msg.get("action") if isinstance(msg, dict) else None
            if action == "auth" and isinstance(msg, dict):
                self._authenticate(conn, msg)
            elif action in ("subscribe", "unsubscribe") and isinstance(msg, dict):
                self._subscribe(conn, str(action), msg)
            else:
                conn.send(wire.error(wire.INVALID_SYNTAX))

    def _authenticate(self, conn: DataConnection, msg: dict[str, Any]) -> None:
        if conn.authenticated:
            conn.send(wire.error(wire.ALREADY_AUTHENTICATED))
            return
        if (msg.get("key"), msg.get("secret")) != self._keys:
            self.stats["auth_failures"] += 1
            conn.send(wire.error(wire.AUTH_FAILED))  # the client may try again until timeout
            return
        if conn.feed == "sip" and self.state.data_plan == "free":
            self.stats["insufficient_subscription"] += 1
            conn.send(wire.error(wire.INSUFFICIENT_SUBSCRIPTION))
            return
        if self._others(conn.feed) and self.faults.second_connection != "allow":
            # "You already have an ongoing authenticated session."
            self.stats["refused"] += 1
            conn.send(wire.error(wire.CONNECTION_LIMIT))
            conn.close(1008, "connection limit exceeded")
            return
        conn.authenticated = True
        conn.cursor = self.visible(conn.feed)
        self.stats["authenticated"] += 1
        conn.send(wire.success("authenticated"))
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._tick())

    def _subscribe(self, conn: DataConnection, action: str, msg: dict[str, Any]) -> None:
        if not conn.authenticated:
            conn.send(wire.error(wire.NOT_AUTHENTICATED))
            return
        changes = wire.subscribe_changes(msg)
        if changes is None:
            conn.send(wire.error(wire.INVALID_SYNTAX))
            return
        subs = {ch: set(symbols) for ch, symbols in conn.subs.items()}
        for channel, symbols in changes.items():
            if action == "subscribe":
                subs[channel] |= set(symbols)
            else:
                subs[channel] -= set(symbols)
        if self.state.data_plan == "free" and (
            len(subs["trades"]) + len(subs["quotes"]) > wire.FREE_TRADES_QUOTES
        ):
            # "your symbol subscriptions are the same as they were before"
            conn.send(wire.error(wire.SYMBOL_LIMIT))
            return
        # Bars that ended before this change go by the subscriptions they ended under.
        self._serve(conn, self.visible(conn.feed))
        conn.subs = subs
        conn.send(wire.subscription(subs))

    async def _write(self, conn: DataConnection) -> None:
        while True:
            item = await conn.queue.get()
            if isinstance(item, Close):
                await conn.ws.close(item.code, item.reason)
                return
            if conn.codec.binary:
                await conn.ws.send_bytes(item)
            else:
                await conn.ws.send_text(item.decode())
