"""Events of a run and of its link to the broker: start, end, warm-up, reconciliation,
bars, the trade-updates stream, retries and errors. Imports bot.models only (and the
settings' type, for the config hash).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bot import models as m
from bot.events.base import Event, SymbolEvent, optional_fields

if TYPE_CHECKING:
    from bot.settings import Settings


# -------------------------------------------------------------------- a run
def config_hash(settings: Settings) -> str:
    """The merged settings (secrets redacted) in 16 hex digits: which config a run used."""
    blob = json.dumps(settings.redacted(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStart(Event):
    kind: ClassVar[str] = "run_start"
    optional: ClassVar[frozenset[str]] = optional_fields("state_dir")
    config_hash: str
    broker: str  # "emulator http://...", "alpaca https://...", "sim" in a backtest
    symbol: str
    state_dir: str | None = None  # a backtest has none


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnd(Event):
    """The end of a run: finished (`stopped` false, with the position and equity), or
    stopped by Ctrl-C/SIGTERM (`interrupted` says which)."""

    kind: ClassVar[str] = "run_end"
    bars: int
    stopped: bool
    position: float | None = None
    equity: float | None = None
    interrupted: str | None = None

    def as_dict(self) -> dict[str, object]:
        if self.interrupted is not None:  # the key order each kind of end always had
            return {"stopped": self.stopped, "interrupted": self.interrupted, "bars": self.bars}
        return {
            "bars": self.bars,
            "position": self.position,
            "equity": self.equity,
            "stopped": self.stopped,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmUp(SymbolEvent):
    kind: ClassVar[str] = "warm_up"
    bars: int
    last_processed: str | None  # the last bar a previous run processed (null: none)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconcile(SymbolEvent):
    kind: ClassVar[str] = "reconcile"
    broker_qty: float
    local_qty: float
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        # A list, as the line (and the console's "notes=..." text) always had.
        out: dict[str, object] = {} if self.symbol is None else {"symbol": self.symbol}
        out.update(broker_qty=self.broker_qty, local_qty=self.local_qty, notes=[*self.notes])
        return out


# -------------------------------------------------------------------- bars
@dataclass(frozen=True, slots=True, kw_only=True)
class Bar(SymbolEvent):
    """A bar the paper runner traded, with the equity and position at its close."""

    kind: ClassVar[str] = "bar"
    bar_time: str
    close: float
    equity: float
    position: float

    @classmethod
    def of(cls, bar: m.Bar, equity: float, position: float) -> Bar:
        time = m.ns_to_et(bar.ts).isoformat()
        return cls(
            bar_time=time,
            close=bar.close,
            equity=round(equity, 2),
            position=position,
            symbol=bar.symbol or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BarRevised(SymbolEvent):
    """A live daily bar that changed between two reads; the second read wins."""

    kind: ClassVar[str] = "bar_revised"
    day: str
    first: m.Bar  # written as a JSON list of the seven market fields of `Bar`
    final: m.Bar

    def as_dict(self) -> dict[str, object]:
        # The bar's symbol is the event's: the lists keep the seven values they always had.
        out = SymbolEvent.as_dict(self)
        out.update(first=list(self.first[:7]), final=list(self.final[:7]))
        return out


# -------------------------------------------------------------------- the broker link
@dataclass(frozen=True, slots=True, kw_only=True)
class Stream(Event):
    """The trade-updates stream connected (`connects` so far) or went down (`fallback`)."""

    kind: ClassVar[str] = "stream"
    optional: ClassVar[frozenset[str]] = optional_fields("connects", "fallback")
    status: str
    connects: int | None = None
    fallback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry(Event):
    kind: ClassVar[str] = "retry"
    optional: ClassVar[frozenset[str]] = optional_fields("error", "attempt")
    why: str
    error: str | None = None
    attempt: int | None = None
    wait_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Error(Event):
    """Something went wrong `where`; `retry` or `resolve` say what happens or what to do.
    `where="runner"` is the error that ended the run (its command prints the message)."""

    kind: ClassVar[str] = "error"
    optional: ClassVar[frozenset[str]] = optional_fields("retry", "resolve")
    where: str
    error: str
    retry: str | None = None
    resolve: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRefused(Event):
    """The broker refused an order for good (an `error` line with its HTTP answer)."""

    kind: ClassVar[str] = "error"
    client_order_id: str
    http: int
    code: int | str | None
    message: str
