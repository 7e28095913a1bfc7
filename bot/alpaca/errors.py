"""What an alpaca-py or HTTP failure means for the bot: `translate` maps it to the
broker error taxonomy of `bot.broker.sim`.

- `DuplicateOrderError`: 422 "client_order_id must be unique" (the order exists: adopt it);
- `BrokerError`: any other definitive refusal (with the extra keys of Alpaca's body);
- `Transient`: 429 (with X-RateLimit-Reset) or 5xx, or a body that does not parse;
- `InDoubt`: the transport failed (time-out, dropped connection): the request may have
  been processed.
The error types stay beside the `Broker` contract in `bot.broker.sim`: the simulated
broker and the engine raise and catch them too, and must not import alpaca-py.
"""

from __future__ import annotations

import json

import requests
from alpaca.common.exceptions import APIError
from pydantic import ValidationError

from bot.broker.sim import BrokerError, DuplicateOrderError, InDoubt, Transient


def translate(exc: Exception) -> Exception:
    """SDK/requests exception -> our taxonomy (never includes request headers).

    Any failure of the transport (time-out, refused or reset connection, a body cut off
    mid-way as `ChunkedEncodingError`) leaves the request in doubt; a 2xx body that does
    not parse (a proxy's HTML page, a truncated JSON) is treated like a 5xx."""
    if isinstance(exc, requests.RequestException):
        return InDoubt(type(exc).__name__)
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        code, message = _code_message(exc)
        if status == 429:
            reset = (
                exc.response.headers.get("X-RateLimit-Reset") if exc.response is not None else None
            )
            return Transient(429, message, _float_or_none(reset))
        if status >= 500:
            return Transient(status, message)
        if status == 422 and "client_order_id must be unique" in message:
            return DuplicateOrderError(status, code, message)
        return BrokerError(status, code, message, _details(exc))
    if isinstance(exc, ValidationError | ValueError) and not isinstance(exc, BrokerError):
        return Transient(502, f"unreadable response ({type(exc).__name__})")
    return exc


def _float_or_none(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _details(exc: APIError) -> dict[str, object]:
    """The extra keys of an error body (Alpaca adds e.g. `held_for_orders` to a 403)."""
    try:
        body = json.loads(str(exc))
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: v for k, v in body.items() if k not in ("code", "message")}


def _code_message(exc: APIError) -> tuple[int, str]:
    # APIError.code / .message raise when the body lacks them (alpaca-py#166).
    try:
        code = int(exc.code)
    except Exception:
        code = 0
    try:
        message = str(exc.message)
    except Exception:
        message = str(exc)[:200]
    return code, message


__all__ = ["translate"]
