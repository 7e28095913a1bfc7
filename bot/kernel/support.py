"""What the kernel implements, checked on a combination's settings before it runs.

Pure Python (no numba): the sweep asks this for every combination and runs the engine
for any that gets a reason back, so a strategy without a compiled kernel (one whose
registry entry names none: a user's strategy, for one) is scored by the engine instead
of being scored wrong. The compiled fills implement every setting of [risk] and [broker]
(bot/kernel/params.py reads them all).
"""

from __future__ import annotations

from bot.settings import Settings
from bot.strategy import StrategyConfig
from strategies import REGISTRY


def unsupported(settings: Settings) -> str | None:
    """Why the kernel cannot score `settings` (the engine will), or None when it can."""
    return unsupported_strategy(settings.strategy)


def unsupported_strategy(st: StrategyConfig) -> str | None:
    """Why the kernel cannot find this strategy's signals, or None when it can."""
    entry = REGISTRY.get(st.name)
    if entry is None or entry.kernel is None or type(st) is not entry.config:
        return f"strategy {st.name!r} has no compiled kernel"
    return None
