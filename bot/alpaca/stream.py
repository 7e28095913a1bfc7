"""The account's trade-updates WebSocket: `TradeUpdates` runs alpaca-py's
`TradingStream` in a background thread and queues each update, and each (re)connection,
as a plain-data `StreamEvent`. What the bot does with them is bot.live.stream's job.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from bot.alpaca.orders import BrokerOrder, broker_order


@dataclass(frozen=True)
class StreamEvent:
    """A trade update as plain data, or a (re)connection ("connected"): after one, events
    may have been missed, so the bot reconciles over REST (Alpaca does not replay)."""

    kind: str  # "connected" | "update"
    event: str = ""
    order: BrokerOrder | None = None
    execution_id: str | None = None
    qty: float | None = None
    price: float | None = None
    at: datetime | None = None


class _Stream(TradingStream):
    """alpaca-py's TradingStream, telling us each time it has (re)connected: 0.44 has no
    callback for that (its reconnect loop is internal), so `_start_ws` is wrapped."""

    on_connected: Callable[[], None] = staticmethod(lambda: None)

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[no-untyped-call]
        self.on_connected()


class TradeUpdates:
    """The account's trade-updates stream in a background thread; events into `events`.

    Only one trade_updates connection per account is allowed, so one of these per run.
    alpaca-py reconnects by itself with jittered backoff; `connected` says whether the
    socket is up now and `last_message` (monotonic) when anything last arrived."""

    def __init__(self, trading_url: str, api_key: str, secret_key: str) -> None:
        scheme, rest = trading_url.split("://", 1)
        ws_url = ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + "/stream"
        self.events: queue.Queue[StreamEvent] = queue.Queue()
        self.connected = False
        self.last_message = 0.0
        self.connects = 0
        self._stream = _Stream(api_key, secret_key, paper=True, url_override=ws_url)
        self._stream.on_connected = self._connected  # type: ignore[method-assign]
        self._stream.subscribe_trade_updates(self._on_update)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trade-updates", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._stream.run()
        finally:
            self.connected = False

    def stop(self) -> None:
        """Ask the stream to close; does not wait (its loop notices within ~5 s)."""
        loop = self._stream._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._stream.stop_ws()))
        self.connected = False

    def _connected(self) -> None:
        self.connected = True
        self.connects += 1
        self.last_message = time.monotonic()
        self.events.put(StreamEvent("connected"))

    async def _on_update(self, u: TradeUpdate) -> None:
        self.last_message = time.monotonic()
        event = str(getattr(u.event, "value", u.event))
        self.events.put(
            StreamEvent(
                "update",
                event,
                broker_order(u.order),
                None if u.execution_id is None else str(u.execution_id),
                u.qty,
                u.price,
                u.timestamp,
            )
        )


__all__ = ["StreamEvent", "TradeUpdates"]
