"""Parsing the query strings and bodies of the /v2 routes, with Alpaca's 422 refusals.

alpaca-py writes booleans as `True`, lists as `A,B`, times as ISO 8601 with an offset
(naive means UTC). Shared by the trading routes (routes.py) and the bars route (bars.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.emulator.errors import invalid
from bot.emulator.jsonfmt import parse_time

Query = dict[str, str]


def bool_param(q: Query, name: str, default: bool = False) -> bool:
    text = q.get(name)
    if text is None:
        return default
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise invalid(f"{name} must be true or false, got {text!r}")


def int_param(q: Query, name: str, default: int, lo: int, hi: int) -> int:
    text = q.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(f"{name} must be an integer, got {text!r}") from None
    if not lo <= value <= hi:
        raise invalid(f"{name} must be between {lo} and {hi}")
    return value


def float_param(q: Query, name: str) -> float | None:
    text = q.get(name)
    try:
        return None if text is None else float(text)
    except ValueError:
        raise invalid(f"{name} must be a number, got {text!r}") from None


def time_param(q: Query, name: str) -> datetime | None:
    text = q.get(name)
    return None if text is None else parse_time(text, name)


def date_param(q: Query, name: str) -> date | None:
    when = time_param(q, name)
    return None if when is None else when.date()


def choice_param(q: Query, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = q.get(name, default).lower()
    if value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def list_param(q: Query, name: str) -> list[str] | None:
    text = q.get(name)
    return [s.strip().upper() for s in text.split(",") if s.strip()] if text else None


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body
