"""Order events pushed by the broker, between bars: a stop that fills at 10:02 is booked
and logged at 10:02, not after the close.

`StreamPump` is what a live run waits with. While the feed sleeps until the next close,
`wait(seconds)` blocks on the trade-updates stream (bot.alpaca.stream.TradeUpdates) and hands
every event to the engine at once:
- an update is booked by `LiveBroker.apply_update` exactly as a REST read of that order
  would be (fills keyed by order + cumulative quantity, late or repeated events change
  nothing), stamped with the bar of the session it happened in;
- after every (re)connection the broker does not replay what was missed, so the open
  orders are read back over REST and the position is checked;
- a stream that is down falls back to REST polling of the open orders (every
  `poll_down_s`, with one log line when it goes down and one when it is back); while
  it is up, open orders are still read back every `cross_check_s` in case it went
  silent without dropping (a silent socket still answers pings).
Without open orders nothing is polled: the request budget stays a few a session.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from bot import lifecycle
from bot.engine import exits
from bot.events import Stream as StreamStatus
from bot.models import ET, et_to_ns

if TYPE_CHECKING:
    from bot.alpaca.stream import StreamEvent, TradeUpdates
    from bot.broker.live import LiveBroker
    from bot.engine.core import Engine
    from bot.events.sinks import Publisher

LOG = logging.getLogger("bot.livestream")


class StreamPump:
    def __init__(
        self,
        stream: TradeUpdates,
        engine: Engine,
        broker: LiveBroker,
        events: Publisher,
        now: Callable[[], int],
        sleep: Callable[[float], None] | None = None,
        poll_down_s: float = 60.0,
        cross_check_s: float = 1800.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.engine, self.broker = stream, engine, broker
        self.events = events
        self.now = now  # the broker's time (estimated), UTC ns
        self.sleep = sleep  # None: block on the stream itself (a real run)
        self.poll_down_s, self.cross_check_s = poll_down_s, cross_check_s
        self.monotonic = monotonic
        self._last_rest = monotonic()
        self._down_said = False

    # -- waiting -------------------------------------------------------------------
    def wait(self, seconds: float) -> None:
        """Wait `seconds`, handling every stream event as it arrives."""
        if self.sleep is not None:  # virtual time (tests): the events that came, then the wait
            self.drain()
            self.sleep(seconds)
            self.drain()
            self._fallback()
            return
        deadline = self.monotonic() + seconds
        while True:
            lifecycle.check()
            left = deadline - self.monotonic()
            if left <= 0:
                break
            try:
                ev = self.stream.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            finally:
                self._fallback()
            self.handle(ev)

    def drain(self) -> None:
        while True:
            try:
                ev = self.stream.events.get_nowait()
            except queue.Empty:
                return
            self.handle(ev)

    # -- events --------------------------------------------------------------------
    def handle(self, ev: StreamEvent) -> None:
        if ev.kind == "connected":
            if self._down_said:
                LOG.warning("trade-updates stream back: events pushed again")
                self._down_said = False
            self.events.publish(StreamStatus(status="connected", connects=self.stream.connects))
            self.reconcile()  # whatever happened while it was away is not replayed
            return
        ts = self._session_ts(ev.at)
        for f in self.broker.apply_update(ev, ts):
            self.engine.on_fill(f)

    def reconcile(self) -> None:
        """Open orders read back over REST, then the position checked."""
        self._last_rest = self.monotonic()
        bar = self.engine.last_bar
        if bar is None:
            return
        stamp = bar._replace(ts=self._session_ts(None))
        for f in self.broker.sync(stamp):
            self.engine.on_fill(f)
        exits.check_position(self.engine, stamp)

    def _fallback(self) -> None:
        """REST polling while the stream is down, and a slow cross-check while it is up."""
        if not self.broker.store.orders(open_only=True):
            return
        since = self.monotonic() - self._last_rest
        if not self.stream.connected:
            if not self._down_said:
                LOG.warning(
                    "trade-updates stream down: reading open orders every %.0f s instead",
                    self.poll_down_s,
                )
                down = StreamStatus(status="down", fallback=f"REST every {self.poll_down_s} s")
                self.events.publish(down)
                self._down_said = True
            if since >= self.poll_down_s:
                self.reconcile()
        elif since >= self.cross_check_s:
            self.reconcile()

    def _session_ts(self, at: datetime | None) -> int:
        """The bar time (midnight ET of the session day) a fill at `at` belongs to."""
        when = at.astimezone(ET) if at is not None else datetime.fromtimestamp(self.now() / 1e9, ET)
        return et_to_ns(datetime.combine(when.date(), dtime(0), tzinfo=ET))


def start_stream(api: Any) -> TradeUpdates | None:
    """The account's trade-updates stream, started, if the API offers one."""
    make = getattr(api, "trade_updates", None)
    if make is None:
        return None
    stream: TradeUpdates = make()
    stream.start()
    return stream


__all__ = ["StreamPump", "start_stream"]
