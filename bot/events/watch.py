"""The events of the level watcher (`bot watch`, and its thread in `bot paper`): an alert
it made, its market-data stream's state, the minutes it read over REST, its sessions.
`bot logs --event alert` (or data_stream, catch_up, watch_session) filters them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.events.base import Event, SymbolEvent, optional_fields


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertMade(SymbolEvent):
    """An alert written to the outbox (`new`: false when its id was there already)."""

    kind: ClassVar[str] = "alert"
    alert_id: str
    alert_kind: str
    title: str
    new: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DataStream(Event):
    """The market-data stream connected (`connects` so far), went silent, or came back."""

    kind: ClassVar[str] = "data_stream"
    optional: ClassVar[frozenset[str]] = optional_fields("connects", "silent_s")
    status: str
    connects: int | None = None
    silent_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CatchUp(SymbolEvent):
    """Minutes read over REST (`why`: connected, silent, start, close), first to last (ET)."""

    kind: ClassVar[str] = "catch_up"
    why: str
    minutes: int
    first: str
    last: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchSession(Event):
    """A watched session `started` or `finished` (with the alerts it made)."""

    kind: ClassVar[str] = "watch_session"
    optional: ClassVar[frozenset[str]] = optional_fields("alerts")
    day: str
    status: str
    symbols: str
    alerts: int | None = None
