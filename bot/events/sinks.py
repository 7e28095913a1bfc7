"""Where events go: a `Publisher` hands each event to a list of sinks.

A sink is anything with `handle(event)` and `close()`: the JSONL journal, the state store
(signal rows), the console lines (bot.events.outputs), an in-memory `Recorder` (tests),
and next the alert notifiers and the dashboard. A sink that raises is logged once (its
later failures are counted) and never stops the run. A sink that does slow I/O sits
behind a `QueuedSink`: its own thread and a bounded queue, so a slow disk or terminal
never stalls the bar loop. This module imports the event types and bot.lifecycle,
nothing of the engine nor of the outputs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from bot import events as ev
from bot import lifecycle

LOG = logging.getLogger("bot.sinks")


class Sink(Protocol):
    def handle(self, event: ev.Event) -> None:
        """Take one event (may raise: the publisher logs it once and carries on)."""
        ...

    def close(self) -> None:
        """The run is over: write out anything held."""
        ...


def sink_name(sink: object) -> str:
    return str(getattr(sink, "name", type(sink).__name__))


class _Failures:
    """A sink's failures: the first logged with its traceback, the rest counted (a sink
    that fails on every event must not flood bot.log)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def add(self, exc: Exception) -> None:
        self.count += 1
        if self.count == 1:
            LOG.error(
                "event sink %s failed (%s: %s); the run goes on, later failures are counted",
                self.name,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )

    def report(self) -> None:
        if self.count > 1:
            LOG.warning("event sink %s failed %d times in this run", self.name, self.count)


class Publisher:
    """Fans each event out to its sinks, in order. With no sinks (backtests, the sweep)
    a publish is one empty loop.

    `for_symbol` gives the publisher of one symbol's engine (and broker): the same sinks,
    and a `SymbolEvent` made without a symbol gets that one. So several engines over one
    account share the journal and the state, and every line says whose it is; the code
    that makes an event (an order status, a guard) need not pass the symbol around."""

    def __init__(self, sinks: Iterable[Sink] = (), symbol: str = "") -> None:
        self.sinks: list[Sink] = list(sinks)
        self.symbol = symbol
        self._failures: dict[int, _Failures] = {}

    def for_symbol(self, symbol: str) -> Publisher:
        """This publisher's sinks, speaking for `symbol` (itself if it already does)."""
        if symbol == self.symbol:
            return self
        view = Publisher(symbol=symbol)
        view.sinks, view._failures = self.sinks, self._failures  # shared, not copied
        return view

    def publish(self, event: ev.Event) -> None:
        if not self.sinks:
            return
        if self.symbol and isinstance(event, ev.SymbolEvent) and event.symbol is None:
            event = replace(event, symbol=self.symbol)
        for sink in self.sinks:
            try:
                sink.handle(event)
            except Exception as exc:  # a sink never stops the run (Ctrl-C is no Exception)
                self._failed(sink, exc)

    def close(self) -> None:
        """Close every sink (a queued one writes out what it holds first)."""
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                self._failed(sink, exc)
        for f in self._failures.values():
            f.report()

    def _failed(self, sink: Sink, exc: Exception) -> None:
        key = id(sink)
        if key not in self._failures:
            self._failures[key] = _Failures(sink_name(sink))
        self._failures[key].add(exc)


class QueuedSink:
    """Runs `inner` on its own thread behind a queue of at most `maxsize` events.

    `handle` never blocks: when the queue is full the event is dropped and counted (and
    said once in bot.log). On a `RunEnd` it waits until the queue is empty, so everything
    of a run is written when the run says it ended; `close` does the same (its put of the
    end marker is the one put that may wait), then closes `inner`. Events published after
    `close` go to `inner` directly: nothing is left to stall by then.
    """

    def __init__(self, inner: Sink, maxsize: int, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or sink_name(inner)
        self.dropped = 0
        self._queue: queue.Queue[ev.Event | None] = queue.Queue(maxsize)
        self._done = threading.Condition()
        self._pending = 0  # taken, not yet handled
        self._closed = False
        self._failures = _Failures(self.name)
        self._thread = threading.Thread(target=self._work, name=f"sink-{self.name}", daemon=True)
        self._thread.start()

    def handle(self, event: ev.Event) -> None:
        if self._closed:
            self.inner.handle(event)
            return
        # Ctrl-C raises wherever the main thread is: held off here, or the count of
        # pending events would stay one too high and the flush at the run's end would hang.
        with lifecycle.deferred():
            with self._done:
                self._pending += 1
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self._settled()
                self.dropped += 1
                if self.dropped == 1:
                    LOG.warning("event sink %s is behind: queue full, events dropped", self.name)
        if isinstance(event, ev.RunEnd):
            self.flush()

    def pending(self) -> int:
        """Events taken and not yet handled by `inner`."""
        with self._done:
            return self._pending

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until `inner` has handled every event taken; False if `timeout` ran out."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)  # blocking: the loop is over, and no event may be lost
        self._thread.join()
        self._failures.report()
        if self.dropped:
            LOG.warning("event sink %s dropped %d event(s) in this run", self.name, self.dropped)
        self.inner.close()

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self.inner.handle(event)
            except Exception as exc:
                self._failures.add(exc)
            self._settled()

    def _settled(self) -> None:
        with self._done:
            self._pending -= 1
            if self._pending == 0:
                self._done.notify_all()


class Recorder:
    """Keeps every event in memory (tests; a driver that wants its events afterwards)."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def handle(self, event: ev.Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        return None


__all__ = ["Publisher", "QueuedSink", "Recorder", "Sink"]
