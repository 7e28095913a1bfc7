"""How numbers and times are written in the emulator's JSON, in one place.

Alpaca sends money and quantities in account, position and order objects as decimal
strings (alpaca-py refuses a JSON number for most account fields), times as RFC 3339.
Floats are rounded so that 100000 - 17157 prints "82843", not "82843.00000000001".
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.emulator.errors import invalid
from bot.models import ET


def dec(x: float) -> str:
    """A float as a plain decimal string: no exponent, no trailing zeros, no "-0"."""
    text = f"{round(x, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def opt_dec(x: float | None) -> str | None:
    return None if x is None else dec(x)


def utc_iso(dt: datetime | None) -> str | None:
    """UTC with a Z suffix, as Alpaca writes order and bar times."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def et_iso(dt: datetime) -> str:
    """US/Eastern with its offset, as Alpaca writes the clock."""
    return dt.astimezone(ET).isoformat()


def ns_to_utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def parse_time(text: str, field: str) -> datetime:
    """An ISO 8601 date or datetime from a request; naive means UTC (alpaca-py's rule)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise invalid(f"{field}: {text!r} is not an RFC 3339 time or a date") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
