"""Fault knobs of the emulator's WebSockets, seeded: one set for the trade-updates stream
(bot/emulator/stream.py, `POST /_emulator/stream`) and one for the market-data stream
(bot/emulator/datastream.py, `POST /_emulator/datastream`, where "events" are bars and
`second_connection` defaults to "error", Alpaca's documented 406 for that stream).

Set them with POST (the account's keys), read them with GET:

- `drop: true` - an action, not a setting: every open stream connection is closed now
  (close code 1011). alpaca-py reconnects by itself with backoff.
- `silent` - `true` (until cleared with `false`) or a number of seconds: no
  `trade_updates` message is sent, but the socket stays open and pings are answered,
  so nothing looks wrong to a client that only watches the connection
  (alpacahq/alpaca-py#740, "connected but silent").
- `duplicate_rate` (0..1): that share of events is sent twice in a row.
- `reorder`: the events of one batch (what one request or one advance changed) are
  delivered shuffled.
- `refuse_connects` (until cleared) / `refuse_next` (a count): connection attempts are
  answered with HTTP 429 at the upgrade, as Alpaca answered the reconnect storms of
  alpacahq/alpaca-py#740.
- `second_connection`: what a second concurrent connection gets. Alpaca allows one
  trade_updates connection per account (shared/ref/alpaca-api.md section 4) and
  refuses more with HTTP 429 at the upgrade (#740): "refuse" (the default). "error"
  accepts the socket and, once the keys are checked, answers an `unauthorized`
  authorization message with `"error": "connection limit exceeded"` and closes it
  (close code 1008), like the data stream's 406; "allow" serves every connection.
- `seed`: restarts the random draws.

Events missed during silence or while no connection listens are never replayed:
Alpaca does not replay either, a client reconciles over REST after a reconnect.
Used from the server's event loop only (no lock).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import invalid

SECOND_CONNECTION = ("refuse", "error", "allow")
_KEYS = (
    "drop",
    "silent",
    "duplicate_rate",
    "reorder",
    "refuse_connects",
    "refuse_next",
    "second_connection",
    "seed",
)


@dataclass
class StreamFaults:
    duplicate_rate: float = 0.0
    reorder: bool = False
    refuse_connects: bool = False
    refuse_next: int = 0
    second_connection: str = "refuse"
    seed: int | None = 0
    silent_until: float = 0.0  # monotonic seconds; math.inf: until cleared
    monotonic: Callable[[], float] = time.monotonic
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def silent(self) -> bool:
        return self.monotonic() < self.silent_until

    def configure(self, changes: dict[str, Any]) -> bool:
        """Check everything, then apply (all or nothing); True when a drop is asked."""
        unknown = sorted(set(changes) - set(_KEYS))
        if unknown:
            raise invalid(f"unknown stream setting(s): {', '.join(unknown)}; known: {_KEYS}")
        for key in ("drop", "reorder", "refuse_connects"):
            if key in changes and not isinstance(changes[key], bool):
                raise invalid(f"{key} must be true or false")
        silent: Any = changes.get("silent")
        if "silent" in changes and not (isinstance(silent, bool) or _number(silent, 0)):
            raise invalid("silent must be true, false or a number of seconds >= 0")
        rate = changes.get("duplicate_rate", 0.0)
        if not _number(rate, 0) or rate > 1:
            raise invalid("duplicate_rate must be between 0 and 1")
        nxt = changes.get("refuse_next", 0)
        if isinstance(nxt, bool) or not isinstance(nxt, int) or nxt < 0:
            raise invalid("refuse_next must be a whole number >= 0")
        if changes.get("second_connection", "refuse") not in SECOND_CONNECTION:
            raise invalid(f"second_connection must be one of {', '.join(SECOND_CONNECTION)}")
        seed = changes.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid("seed must be a whole number or null")
        for key in ("duplicate_rate", "reorder", "refuse_connects", "refuse_next"):
            if key in changes:
                setattr(self, key, changes[key])
        self.second_connection = changes.get("second_connection", self.second_connection)
        if "silent" in changes:
            if isinstance(silent, bool):
                self.silent_until = math.inf if silent else 0.0
            else:
                self.silent_until = self.monotonic() + float(silent)
        if "seed" in changes:
            self.seed = seed
            self._rng = random.Random(seed)
        return bool(changes.get("drop", False))

    def as_dict(self) -> dict[str, Any]:
        left = max(self.silent_until - self.monotonic(), 0.0)
        return {
            "silent": self.silent,
            "silent_s_left": None if math.isinf(left) else round(left, 3),
            "duplicate_rate": self.duplicate_rate,
            "reorder": self.reorder,
            "refuse_connects": self.refuse_connects,
            "refuse_next": self.refuse_next,
            "second_connection": self.second_connection,
            "seed": self.seed,
        }

    def draw_refusal(self) -> bool:
        """Whether to answer this connection attempt with 429 (uses one `refuse_next`)."""
        if self.refuse_connects:
            return True
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return True
        return False

    def shape(self, frames: list[bytes]) -> list[bytes]:
        """One batch as it goes out: some frames twice, maybe shuffled."""
        out: list[bytes] = []
        for frame in frames:
            out.append(frame)
            if self.duplicate_rate > 0 and self._rng.random() < self.duplicate_rate:
                out.append(frame)
        if self.reorder and len(out) > 1:
            self._rng.shuffle(out)
        return out


def _number(value: Any, least: float) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value) and value >= least
