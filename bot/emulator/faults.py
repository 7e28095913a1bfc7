"""Injected faults: what a flaky broker does to a bot, on demand and reproducibly.

- `error_rate`: that share of requests is answered at once with a status drawn from
  `error_codes`, BEFORE the request is processed (nothing happens on the server);
  a 429 carries `X-RateLimit-*` headers like Alpaca's.
- `delay_s`: added to every response.
- `drop_response_rate` / `drop_next`: for `POST /v2/orders` only, the order IS created
  and then the answer is held for `drop_hold_s` (longer than the client's read
  timeout): the client sees a timeout for an order that exists.
- `black_hole`: every request hangs for `drop_hold_s` without an answer.
- `reject_next`: the next N orders created by `POST /v2/orders` (parents only) are
  answered 200 `accepted` as usual, then `rejected` (with `failed_at`, legs canceled)
  when they would reach the market (bot/emulator/replay.py): Alpaca may reject an order
  after accepting it (https://docs.alpaca.markets/docs/orders-at-alpaca, order
  lifecycle "accepted -> rejected"). A refused POST does not use one up.
Admin routes are never affected. Draws come from a seeded `random.Random`.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import RATE_LIMITED, invalid

RATE_LIMIT = 200  # requests per minute, Alpaca's trading API limit
_MESSAGES = {
    429: (RATE_LIMITED, "rate limit exceeded"),
    500: (50010000, "internal server error"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}


@dataclass
class Faults:
    error_rate: float = 0.0
    error_codes: list[int] = field(default_factory=lambda: [500, 503, 429])
    delay_s: float = 0.0
    drop_response_rate: float = 0.0
    drop_next: int = 0
    drop_hold_s: float = 30.0
    black_hole: bool = False
    reject_next: int = 0
    seed: int | None = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._check()

    def _check(self) -> None:
        for name in ("error_rate", "drop_response_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise invalid(f"{name} must be between 0 and 1")
        if not self.error_codes or any(not 400 <= c <= 599 for c in self.error_codes):
            raise invalid("error_codes must be a non-empty list of HTTP statuses 400-599")
        if min(self.delay_s, self.drop_hold_s, self.drop_next, self.reject_next) < 0:
            raise invalid("delay_s, drop_hold_s, drop_next and reject_next must be >= 0")

    def configure(self, changes: dict[str, Any]) -> None:
        """Apply the given settings (others unchanged); `seed` restarts the random draws."""
        allowed = set(self.as_dict())
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise invalid(f"unknown fault setting(s): {', '.join(unknown)}")
        with self._lock:
            before = self.as_dict()
            try:
                for key, value in changes.items():
                    setattr(self, key, _coerce(key, value))
                self._check()
            except Exception as exc:
                for key, value in before.items():  # all or nothing
                    setattr(self, key, value)
                if isinstance(exc, TypeError | ValueError):
                    raise invalid(f"bad fault setting: {exc}") from None
                raise
            if "seed" in changes:
                self._rng = random.Random(self.seed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "error_codes": list(self.error_codes),
            "delay_s": self.delay_s,
            "drop_response_rate": self.drop_response_rate,
            "drop_next": self.drop_next,
            "drop_hold_s": self.drop_hold_s,
            "black_hole": self.black_hole,
            "reject_next": self.reject_next,
            "seed": self.seed,
        }

    def draw_error(self) -> int | None:
        """The status to fail this request with, or None."""
        with self._lock:
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                return self._rng.choice(self.error_codes)
            return None

    def draw_drop(self) -> bool:
        """Whether to hold back the answer to this order submission."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return self.drop_response_rate > 0 and self._rng.random() < self.drop_response_rate

    def draw_reject(self) -> bool:
        """Whether the order just created is to be rejected when it is routed."""
        with self._lock:
            if self.reject_next > 0:
                self.reject_next -= 1
                return True
            return False


def error_response(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Body and headers of an injected error; 429 gets Alpaca's rate-limit headers."""
    code, message = _MESSAGES.get(status, (status * 100_000, "injected error"))
    headers: dict[str, str] = {}
    if status == 429:
        headers = {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }
    return {"code": code, "message": message}, headers


def _coerce(key: str, value: Any) -> Any:
    if key == "error_codes":
        if not isinstance(value, list):
            raise TypeError("error_codes must be a list")
        return [int(v) for v in value]
    if key == "black_hole":
        if not isinstance(value, bool):
            raise TypeError("black_hole must be true or false")
        return value
    if key in ("drop_next", "reject_next", "seed"):
        return None if value is None and key == "seed" else int(value)
    return float(value)
