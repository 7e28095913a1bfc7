"""Alpaca's request limit: `X-RateLimit-*` headers on every /v2 answer, 429 past it.

Alpaca throttles the API per account, "currently 200 requests per minute"; past it the
answer is 429 (https://alpaca.markets/support/usage-limit-api-calls), and "all Trading
API responses include" `X-RateLimit-Limit` (the limit), `X-RateLimit-Remaining` (what
is left) and `X-RateLimit-Reset` (when the counter resets, epoch seconds), as Alpaca
staff put it on https://forum.alpaca.markets/t/executing-orders/12029. The market data API has
its own limit (200 a minute on the free plan,
https://docs.alpaca.markets/docs/about-market-data-api), so each key has two counters:
one for /v2/stocks (data), one for the rest of /v2 (trading). The 429 body is
{"code": 42910000, "message": "rate limit exceeded"}, with the headers. Admin routes
(/_emulator) are never counted.

The window, and why it is not simply "the last 60 wall-clock seconds": a replay
compresses time (the emulator's clock jumps a session per bar while a test replays
months in seconds). Counting per wall-clock minute would throttle every offline replay
to 200 requests a minute, a pace real Alpaca never imposes on the same trading, spread
over months. So each counter is a sliding window of 60 s of WALL time (state.monotonic)
that starts afresh whenever the emulator's clock has moved more than 60 s since the
window began: within one minute of market time, requests are limited as at Alpaca;
across a replay's jumps, each stretch of market time gets its own allowance. A bot
polling the clock in a loop while the emulator's clock stands still is limited exactly
as Alpaca would limit it. Rejected requests are not counted (they did no work).
`state.rate_limit_per_min` = 0 turns the limit and the headers off.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.emulator.errors import RATE_LIMITED

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

WINDOW_S = 60.0
_WINDOW_NS = int(WINDOW_S * 1e9)
LIMITED_BODY = {"code": RATE_LIMITED, "message": "rate limit exceeded"}


@dataclass
class _Window:
    started_ns: int  # the emulator's clock when this window began
    stamps: deque[float] = field(default_factory=deque)  # wall times of counted requests


class RateLimits:
    """Per key and API (trading / data) request counters, thread-safe."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}

    def check(self, key: str, path: str) -> tuple[bool, dict[str, str]]:
        """Count a request to `path` made with `key`: (allowed, headers to send)."""
        limit = self.state.rate_limit_per_min
        if limit <= 0 or not path.startswith("/v2/"):
            return True, {}
        api = "data" if path.startswith("/v2/stocks") else "trading"
        wall, market = self.state.monotonic(), self.state.now_ns
        with self._lock:
            window = self._windows.get((key, api))
            stale = window is not None and abs(market - window.started_ns) > _WINDOW_NS
            if window is None or stale:
                window = self._windows[(key, api)] = _Window(market)
            while window.stamps and window.stamps[0] <= wall - WINDOW_S:
                window.stamps.popleft()
            if not window.stamps:
                window.started_ns = market  # an empty window begins with this request
            allowed = len(window.stamps) < limit
            if allowed:
                window.stamps.append(wall)
            left = limit - len(window.stamps)
            frees_in = window.stamps[0] + WINDOW_S - wall if window.stamps else WINDOW_S
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(left, 0)),
            "X-RateLimit-Reset": str(math.ceil(time.time() + max(frees_in, 0.0))),
        }
        return allowed, headers
