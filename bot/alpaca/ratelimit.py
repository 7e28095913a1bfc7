"""Client-side request limiter: at most N requests in any sliding 60-second window.

Alpaca allows 200 requests per minute per account; the bot keeps well under it
(120 by default) so a burst of retries can never trip the broker's limit. Thread-safe;
`clock` and `sleep` are injectable so tests run on a fake clock; the default sleep
wakes at once on Ctrl-C or SIGTERM (bot.lifecycle).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from bot import lifecycle


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = lifecycle.sleep,
        window_s: float = 60.0,
    ) -> None:
        self.per_minute = per_minute
        self.window = window_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return waited
                wait = self.window - (now - self._sent[0])
            self._sleep(wait)
            waited += wait
