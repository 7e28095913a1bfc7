"""Where events go: a `Publisher` hands each event to a list of sinks.

A sink is anything with `handle(event)` and `close()`: the JSONL journal, the state store
(signal rows), the console lines, an in-memory `Recorder` (tests), and next the alert
notifiers and the dashboard. A sink that raises is logged once (its later failures are
counted) and never stops the run. A sink that does slow I/O sits behind a `QueuedSink`:
its own thread and a bounded queue, so a slow disk or terminal never stalls the bar loop.
This module imports the event types, the journal, the console text and bot.lifecycle,
nothing of the engine.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from bot import events as ev
from bot import lifecycle
from bot.events.journal import FILE_ONLY, Journal
from bot.events.text import human

if TYPE_CHECKING:
    from bot.store.state import StateStore

LOG = logging.getLogger("bot.sinks")
# The journal's queue: about 200 bytes an event, so at most ~20 MB held. A paper run writes
# a few events a bar and the writer keeps up by orders of magnitude (it fsyncs only after
# decisions), so the queue fills only if the disk stops answering for a long time; the
# journal is the audit record, so it is sized never to fill rather than to save memory.
JOURNAL_QUEUE = 100_000
CONSOLE_QUEUE = 10_000  # lines for people: if a terminal stops reading, dropping beats waiting


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


# Decisions are written through at once (fsync): after a crash, the journal still shows
# every order the bot sent. Bars may wait in the buffer for the next flush.
_FLUSH_AT_ONCE = frozenset(
    {"signal", "order_intent", "fill", "trade", "guard", "error", "reconcile", "halt",
     "position_mismatch", "late", "run_end"}
)  # fmt: skip


class JournalSink:
    """Lines in `events.jsonl` (bot.events.journal.Journal), stamped with the time of writing."""

    name = "journal"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._closed = False

    def handle(self, event: ev.Event) -> None:
        self.journal.write(event)
        if self._closed or event.kind in _FLUSH_AT_ONCE:
            self.journal.flush()

    def close(self) -> None:
        self._closed = True
        self.journal.flush()


class StateSink:
    """The signals table of the state store (`bot status` shows the last signals).

    Not queued: one SQLite insert per signal, on the connection the loop writes every
    bar's state with (sqlite3 connections stay on their thread), rare beside those."""

    name = "state"

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Signal):
            # The row keeps the signal's own keys: its bar time is `time` there.
            body = {("time" if k == "bar_time" else k): v for k, v in event.as_dict().items()}
            self.store.add_signal(event.ts, event.tag, event.signal_kind, body, event.symbol or "")

    def close(self) -> None:
        return None  # the runner closes the store after the last bar's state


_HUMAN = frozenset(
    {"signal", "order_intent", "fill", "trade", "guard", "error", "reconcile", "halt",
     "position_mismatch", "late"}
)  # fmt: skip
_WARN = frozenset({"guard", "error", "halt", "position_mismatch", "late"})


class ConsoleSink:
    """One readable line per decision (bot.events.text.human): to bot.log through logging,
    warnings also to the console's log handler, and printed on `console` if given."""

    name = "console"

    def __init__(self, console: Any = None, log: logging.Logger | None = None) -> None:
        self.console = console
        # The logger these lines have always had in bot.log.
        self.log = log or logging.getLogger("bot.runner")

    def handle(self, event: ev.Event) -> None:
        kind = event.kind
        if kind not in _HUMAN:
            return
        text = human(kind, event.as_dict())
        if isinstance(event, ev.Error) and event.where == "runner":
            # The error that ended the run: the command that ran it prints one message
            # saying what went wrong and what to do; bot.log gets the details.
            self.log.error("%s", text, extra=FILE_ONLY)
            return
        self.log.log(logging.WARNING if kind in _WARN else logging.INFO, "%s", text)
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        return None


__all__ = [
    "CONSOLE_QUEUE",
    "JOURNAL_QUEUE",
    "ConsoleSink",
    "JournalSink",
    "Publisher",
    "QueuedSink",
    "Recorder",
    "Sink",
    "StateSink",
]
