"""Live minute bars: alpaca-py's `StockDataStream` in a background thread, each bar (and
each revision, `updatedBars`) queued as a plain `MinuteEvent`, as are (re)connections.

Alpaca's market-data WebSocket (https://docs.alpaca.markets/docs/streaming-market-data)
sends a minute bar just after the minute ends, and an `updatedBars` message when late
trades change a bar already sent ("updated bars ... sent after the minute bar if
late trades arrive"). It never replays what a dropped connection missed, so each
(re)connection is queued too: the watcher then catches up over REST
(bot/watch/live.py). alpaca-py reconnects by itself with jittered backoff (1 to 30 s);
`data_timeout` makes it reconnect a socket that is up but mute.

One market-data connection per account and endpoint is allowed (Alpaca answers a second
with error 406), so one of these per process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
from alpaca.data.enums import DataFeed
from alpaca.data.live import StockDataStream

from bot.data.checks import price_problems
from bot.models import ET, Bar, session_day

LOG = logging.getLogger("bot.stream")
ALPACA_STREAM = "wss://stream.data.alpaca.markets/v2/"

Kind = Literal["connected", "bar", "updated", "rejected"]


@dataclass(frozen=True)
class MinuteEvent:
    """A minute bar, its revision, a refused bar (with why), or a (re)connection."""

    kind: Kind
    bar: Bar | None = None
    why: str = ""


def stream_url(explicit: str, data_url: str, feed: str) -> str:
    """The WebSocket URL: the configured one, else the emulator's beside a loopback data
    URL, else Alpaca's for the feed."""
    if explicit:
        return explicit
    parts = urlsplit(data_url)
    host = (parts.hostname or "").lower()
    if host in ("127.0.0.1", "localhost", "::1") and parts.port:
        return f"ws://{parts.netloc}/v2/{feed}"
    return ALPACA_STREAM + feed


def bar_of(raw: Any) -> Bar:
    """alpaca-py's Bar model as our Bar: start time in UTC ns, the ET session day."""
    at = raw.timestamp
    ts = int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000
    return Bar(
        ts,
        float(raw.open),
        float(raw.high),
        float(raw.low),
        float(raw.close),
        float(raw.volume),
        session_day(at.astimezone(ET).date()),
        str(raw.symbol),
    )


def problem_of(bar: Bar) -> str:
    """Why a bar is refused (the rules bar files and REST bars are read with), or ""."""
    cols = [np.array([v]) for v in (bar.open, bar.high, bar.low, bar.close, bar.volume)]
    for mask, field, reason, _ in price_problems(*cols):
        if mask[0]:
            return f"{field}: {reason}"
    if bar.ts % 60_000_000_000:
        return "timestamp: not on the minute grid"
    return ""


class _Stream(StockDataStream):
    """StockDataStream telling us each time it has (re)connected and authenticated."""

    on_connected: Callable[[], None] = staticmethod(lambda: None)

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[no-untyped-call]
        self.on_connected()


class MinuteStream:
    """The symbols' minute bars and their revisions, into `events`, from a thread.

    `connected` says whether the socket is up, `connects` how often it has, and
    `last_message` (monotonic) when a bar last arrived (or the stream started): a socket
    that reconnects again and again but brings no bar is still silent."""

    def __init__(
        self, url: str, api_key: str, secret_key: str, symbols: list[str], silent_s: float
    ) -> None:
        self.url = url
        self.events: queue.Queue[MinuteEvent] = queue.Queue()
        self.connected = False
        self.last_message = time.monotonic()
        self.connects = 0
        feed = DataFeed.SIP if url.rstrip("/").endswith("/sip") else DataFeed.IEX
        self._stream = _Stream(
            api_key, secret_key, feed=feed, url_override=url, data_timeout=silent_s
        )
        self._stream.on_connected = self._connected  # type: ignore[method-assign]
        self._stream.subscribe_bars(self._on_bar, *symbols)
        self._stream.subscribe_updated_bars(self._on_updated, *symbols)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.last_message = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="minute-bars", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._stream.run()
        except Exception as exc:  # the thread must not die with a traceback on stderr
            LOG.error("the market-data stream stopped: %s", exc)
        finally:
            self.connected = False

    def stop(self, wait_s: float = 5.0) -> None:
        """Close the stream and wait up to `wait_s` for its thread."""
        loop = self._stream._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._stream.stop_ws()))
        if self._thread is not None:
            self._thread.join(wait_s)
        self.connected = False

    def _connected(self) -> None:
        self.connected = True
        self.connects += 1
        LOG.info("market-data stream connected (%d) to %s", self.connects, self.url)
        self.events.put(MinuteEvent("connected"))

    def _put(self, kind: Kind, raw: Any) -> None:
        self.last_message = time.monotonic()
        try:
            bar = bar_of(raw)
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            self.events.put(MinuteEvent("rejected", None, f"unreadable bar {raw!r}: {exc}"))
            return
        why = problem_of(bar)
        self.events.put(MinuteEvent("rejected", bar, why) if why else MinuteEvent(kind, bar))

    async def _on_bar(self, raw: Any) -> None:
        self._put("bar", raw)

    async def _on_updated(self, raw: Any) -> None:
        self._put("updated", raw)


__all__ = ["MinuteEvent", "MinuteStream", "bar_of", "problem_of", "stream_url"]
