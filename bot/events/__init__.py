"""Typed events: what a run reports, one frozen type per kind of event.

The engine, the broker adapter, the feeds and the drivers build these and hand them to a
`bot.events.sinks.Publisher`; the sinks (the JSONL journal, the state store, the console lines)
decide what to do with them. Fields hold the values as `logs/events.jsonl` writes them:
times as ISO strings in US/Eastern, prices rounded as people read them, so `as_dict()` is
exactly the JSON object of a line (the journal adds `time`, `run_id` and `event`), the
same as before these types existed (tests/fixtures/events_before.jsonl). An optional
field that is None is left out of the line, as the keyword call it replaced left it out.
`kind` is the line's `event` (two types may share one: `risk`, `error`); `KINDS` lists
every kind, and `bot logs --event` accepts those. A `SymbolEvent` (every event of one
symbol's trading) carries its `symbol`, filled in by the engine's publisher
(`Publisher.for_symbol`); lines written before symbols have none, and events rebuilt from
them write none. Modules: base.py (the base types),
run.py (a run and its broker link), trading.py (decisions and orders). Imports only
bot.models (and the settings' type, for the config hash).

Beside the types: sinks.py (the Publisher, QueuedSink and Recorder), outputs.py (the sinks
that write: journal, state store, console), journal.py (logging and the JSONL file),
text.py (an event's readable line), logview.py (reading the journal back for `bot logs`).
"""

from bot.events.base import Event, SymbolEvent
from bot.events.run import (
    Bar,
    BarRevised,
    Error,
    OrderRefused,
    Reconcile,
    Retry,
    RunEnd,
    RunStart,
    Stream,
    WarmUp,
    config_hash,
)
from bot.events.trading import (
    Fill,
    Guard,
    Halt,
    Late,
    Order,
    OrderIntent,
    PositionMismatch,
    RiskApproved,
    RiskDecision,
    RiskRejected,
    Signal,
    Trade,
)
from bot.events.watch import AlertMade, CatchUp, DataStream, WatchSession

# Every type, in the order `bot logs` lists the kinds.
EVENT_TYPES: tuple[type[Event], ...] = (
    RunStart, RunEnd, Bar, BarRevised, WarmUp, Reconcile, Signal, RiskApproved, RiskRejected,
    OrderIntent, Order, Fill, Trade, Guard, Halt, PositionMismatch, Late, Stream, Retry, Error,
    OrderRefused, AlertMade, DataStream, CatchUp, WatchSession,
)  # fmt: skip
KINDS: tuple[str, ...] = tuple(dict.fromkeys(t.kind for t in EVENT_TYPES))

__all__ = [
    "EVENT_TYPES",
    "KINDS",
    "AlertMade",
    "Bar",
    "BarRevised",
    "CatchUp",
    "DataStream",
    "Error",
    "Event",
    "Fill",
    "Guard",
    "Halt",
    "Late",
    "Order",
    "OrderIntent",
    "OrderRefused",
    "PositionMismatch",
    "Reconcile",
    "Retry",
    "RiskApproved",
    "RiskDecision",
    "RiskRejected",
    "RunEnd",
    "RunStart",
    "Signal",
    "Stream",
    "SymbolEvent",
    "Trade",
    "WarmUp",
    "WatchSession",
    "config_hash",
]
