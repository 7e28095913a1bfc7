"""The base of every event type: frozen, slotted, keyword-only; `as_dict()` is the JSON.

Imports nothing from the project.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

Value = str | float | None  # int and bool are floats to mypy


_NAMES: dict[type, tuple[str, ...]] = {}  # each type's field names, looked up once


def _names(cls: type[Event]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; `as_dict()` gives its fields in declaration order."""

    kind: ClassVar[str] = ""
    optional: ClassVar[frozenset[str]] = frozenset()  # left out of the line when None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            if value is not None or name not in self.optional:
                out[name] = value
        return out


def optional_fields(*names: str) -> frozenset[str]:
    return frozenset(names)


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolEvent(Event):
    """An event of one symbol's trading: `symbol` leads its fields. An engine's publisher
    (`Publisher.for_symbol`) fills it in when the maker left it None; None stays only in
    events rebuilt from lines written before symbols, and is left out of the line."""

    symbol: str | None = None

    def as_dict(self) -> dict[str, object]:
        out = Event.as_dict(self)
        if self.symbol is None:
            del out["symbol"]
        return out
