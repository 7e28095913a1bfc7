"""The wire format of Alpaca's market-data stream: frames, control messages, error codes.

From https://docs.alpaca.markets/docs/streaming-market-data ("WebSocket Stream") and
https://docs.alpaca.markets/docs/real-time-stock-pricing-data:

- "Every message you receive from the server will be in the format
  [{"T": "{message_type}", {contents}},...]": every frame is an array; control
  messages (success, error, subscription) come alone, data points may be batched.
- JSON in text frames by default; a client that sends the header
  `Content-Type: application/msgpack` at the handshake gets MessagePack in binary
  frames (alpaca-py always does, and unpacks every frame with msgpack:
  shared/ref/alpaca-api.md section 3.2). In MessagePack, `t` is a msgpack Timestamp
  (ext type -1), which alpaca-py turns into a datetime; in JSON it is RFC 3339, UTC.
- Client messages are read as JSON (text) or MessagePack (binary), whichever came.
- The error list ("Errors" on the streaming page): 400 invalid syntax, 401 not
  authenticated, 402 auth failed, 403 already authenticated, 404 auth timeout, 405
  symbol limit exceeded, 406 connection limit exceeded, 409 insufficient subscription.
- "You will always receive your entire list of subscriptions" after a subscribe or an
  unsubscribe; `corrections` and `cancelErrors` follow `trades` (they come with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgpack

from bot.emulator.jsonfmt import ns_to_utc, utc_iso

INVALID_SYNTAX = (400, "invalid syntax")
NOT_AUTHENTICATED = (401, "not authenticated")
AUTH_FAILED = (402, "auth failed")
ALREADY_AUTHENTICATED = (403, "already authenticated")
AUTH_TIMEOUT = (404, "auth timeout")
SYMBOL_LIMIT = (405, "symbol limit exceeded")
CONNECTION_LIMIT = (406, "connection limit exceeded")
INSUFFICIENT_SUBSCRIPTION = (409, "insufficient subscription")

# What a client may subscribe to on the stock stream; the emulator sends data on the bar
# channels only (trades, quotes, statuses and LULDs are acknowledged, never fed).
SUBSCRIBABLE = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
IMPLIED = ("corrections", "cancelErrors")  # "implied by trades": in the ack, never asked
FREE_TRADES_QUOTES = 30  # the free (IEX) plan: "limited to 30 channels ... for trades and quotes"


class Codec:
    """One connection's encoding: MessagePack (binary) or JSON (text)."""

    def __init__(self, content_type: str | None) -> None:
        self.binary = (content_type or "").split(";")[0].strip().lower() == "application/msgpack"

    def encode(self, messages: list[dict[str, Any]]) -> bytes:
        """One frame (the JSON text as UTF-8 bytes when the connection is JSON)."""
        if self.binary:
            return bytes(msgpack.packb([_stamped(m, msgpack_time) for m in messages]))
        return json.dumps([_stamped(m, rfc3339) for m in messages], separators=(",", ":")).encode()


def _stamped(message: dict[str, Any], stamp: Any) -> dict[str, Any]:
    t = message.get("t")
    return {**message, "t": stamp(t)} if isinstance(t, int) else message


def msgpack_time(ns: int) -> Any:
    return msgpack.Timestamp.from_unix_nano(ns)


def rfc3339(ns: int) -> str:
    text = utc_iso(ns_to_utc(ns))
    assert text is not None
    if ns % 1_000_000_000:  # nanosecond precision, as Alpaca writes trade times
        return text.split(".")[0].rstrip("Z") + f".{ns % 1_000_000_000:09d}Z"
    return text


def decode(message: Mapping[str, Any]) -> Any:
    """A client message (Starlette's `websocket.receive`) as Python data; ValueError if
    it is neither JSON nor MessagePack."""
    if message.get("text") is not None:
        return json.loads(message["text"])
    raw = message.get("bytes") or b""
    try:
        return msgpack.unpackb(raw)
    except Exception:  # msgpack raises several types for garbage
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError("neither MessagePack nor JSON") from None


def success(msg: str) -> dict[str, Any]:
    return {"T": "success", "msg": msg}


def error(code_msg: tuple[int, str]) -> dict[str, Any]:
    code, msg = code_msg
    return {"T": "error", "code": code, "msg": msg}


def subscription(subs: dict[str, set[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"T": "subscription"}
    for channel in SUBSCRIBABLE:
        out[channel] = sorted(subs[channel])
    for channel in IMPLIED:
        out[channel] = sorted(subs["trades"])
    return out


def subscribe_changes(msg: dict[str, Any]) -> dict[str, list[str]] | None:
    """The channels and symbols of a subscribe/unsubscribe message, upper-cased, or None
    when it does not follow the specification (a list of symbol strings per channel)."""
    changes: dict[str, list[str]] = {}
    for key, value in msg.items():
        if key == "action" or key in IMPLIED:  # implied channels: nothing to change
            continue
        if key not in SUBSCRIBABLE or not isinstance(value, list):
            return None
        if not all(isinstance(s, str) and s for s in value):
            return None
        changes[key] = [s.upper() for s in value]
    return changes
