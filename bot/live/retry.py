"""The one retry path for every call that is safe to repeat.

Reads (clock, bars, account, orders, positions), order look-ups and cancels, on the
live feed and the replay's emulator admin calls alike, go through `Retrier.call`:
- a transient error (429, 5xx, time-out, dropped or refused connection, a body cut
  off mid-way) is retried with exponential backoff and full jitter, capped, or until
  `X-RateLimit-Reset` when the broker gives it; it never ends the process;
- a definitive error (401, 403, 404, 422: `BrokerError`) is raised at once;
- with a budget (start-up), transient errors that outlast it raise
  `BrokerUnavailable`, with what was tried, so the user gets one clear message. The
  budget also caps each attempt's own time-out (through `remaining()`, read by the
  HTTP layer), so the whole start-up ends within it;
- every wait is `bot.lifecycle.sleep` by default: Ctrl-C or SIGTERM end it at once.
Order submission is NOT retried here: resending an order is only safe after the
broker was asked about its client order id (bot/broker/sending.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from bot import events as ev
from bot import lifecycle
from bot.broker.sim import InDoubt, Transient
from bot.events.sinks import Publisher

T = TypeVar("T")
_DEADLINE: ContextVar[float | None] = ContextVar("retry_deadline", default=None)


class BrokerUnavailable(Exception):
    """Transient errors lasted longer than the budget (only at start-up)."""


def remaining(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left in the current budget, or None when there is none."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(deadline - clock(), 0.05)


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Every retried call inside ends (or raises BrokerUnavailable) within `seconds`."""
    if seconds is None:
        yield
        return
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class Retrier:
    def __init__(
        self,
        base_s: float = 0.5,
        cap_s: float = 60.0,
        events: Publisher | None = None,
        sleep: Callable[[float], None] = lifecycle.sleep,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        self.base, self.cap = base_s, cap_s
        self.events = events if events is not None else Publisher()
        self.sleep = sleep
        self.clock = clock  # wall clock: X-RateLimit-Reset is a unix time
        self.rng = random.Random(seed)

    def call(self, fn: Callable[[], T], what: str) -> T:
        """`fn()`, retried on transient errors (see the module docstring)."""
        attempt = 0
        first: Exception | None = None
        while True:
            try:
                return fn()
            except (Transient, InDoubt) as exc:
                first = first or exc
                wait = self.backoff(attempt, getattr(exc, "reset_at", None))
                left = remaining()
                if left is not None and wait >= left:
                    raise BrokerUnavailable(
                        f"{what} failed {attempt + 1} time(s) ({_describe(exc)}"
                        + (f"; first: {_describe(first)}" if first is not exc else "")
                        + ")"
                    ) from None
                retry = ev.Retry(
                    why=what, error=_describe(exc), attempt=attempt + 1, wait_s=round(wait, 3)
                )
                self.events.publish(retry)
                self.sleep(wait)
                attempt += 1

    def backoff(self, attempt: int, reset_at: float | None = None) -> float:
        """Until the rate-limit reset (plus jitter), else exponential with full jitter."""
        if reset_at is not None:
            wait = max(0.0, reset_at - self.clock()) + self.rng.uniform(0, 0.25)
        else:
            wait = self.rng.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))
        return min(wait, self.cap)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Transient):
        return f"HTTP {exc.status} {exc.message}"
    return f"{type(exc).__name__} {exc}".strip()


def transient_http(status: int, message: str, headers: Any = None) -> Transient:
    """A Transient for a plain HTTP answer (the emulator's admin routes)."""
    reset = None
    if status == 429 and headers is not None:
        try:
            reset = float(headers.get("X-RateLimit-Reset"))
        except (TypeError, ValueError):
            reset = None
    return Transient(status, message, reset)


__all__ = ["BrokerUnavailable", "Retrier", "budget", "remaining", "transient_http"]
