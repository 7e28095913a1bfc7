"""The sinks that write events somewhere: the journal, the state store, the console.

Each is a `bot.events.sinks.Sink` that a driver puts in its `Publisher` (bot paper:
`bot.live.runner`; bot backtest: `bot.engine.backtest`), the slow ones behind a
`QueuedSink` of the size given here. What each writes, and when it flushes, is its own;
the fan-out, the queues and the failure counting are bot.events.sinks'.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import events as ev
from bot.events.journal import FILE_ONLY, Journal
from bot.events.text import human

if TYPE_CHECKING:
    from bot.store.state import StateStore

# The journal's queue: about 200 bytes an event, so at most ~20 MB held. A paper run writes
# a few events a bar and the writer keeps up by orders of magnitude (it fsyncs only after
# decisions), so the queue fills only if the disk stops answering for a long time; the
# journal is the audit record, so it is sized never to fill rather than to save memory.
JOURNAL_QUEUE = 100_000
CONSOLE_QUEUE = 10_000  # lines for people: if a terminal stops reading, dropping beats waiting


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

    def __init__(
        self, console: Any = None, log: logging.Logger | None = None, with_symbol: bool = False
    ) -> None:
        self.console = console
        self.with_symbol = with_symbol  # several symbols in one run: each line names its
        # The logger these lines have always had in bot.log.
        self.log = log or logging.getLogger("bot.runner")

    def handle(self, event: ev.Event) -> None:
        kind = event.kind
        if kind not in _HUMAN:
            return
        text = human(kind, event.as_dict(), self.with_symbol)
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


__all__ = ["CONSOLE_QUEUE", "JOURNAL_QUEUE", "ConsoleSink", "JournalSink", "StateSink"]
