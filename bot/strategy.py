"""The interface the engine expects from a strategy; implementations live in strategies/.

A strategy turns closed bars into signals. It never sees a broker or an account.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.models import Bar, Signal


class Strategy(Protocol):
    name: str

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        """Feed one closed bar (in time order); return the signals confirmed at it."""
        ...

    def warmup_bars(self) -> int:
        """Closed bars needed before the strategy can give every signal."""
        ...

    def status(self) -> list[dict[str, object]]:
        """Human-readable state of each level, for `bot signals` and `bot status`."""
        ...
