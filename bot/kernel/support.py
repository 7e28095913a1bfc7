"""What the kernel implements, checked on a combination's settings before it runs.

Pure Python (no numba): the sweep asks this for every combination and runs the engine
for any that gets a reason back, so a strategy the kernel does not implement (another
registered one, a user's, or `level_breakout` re-registered with another class) is
scored by the engine instead of being scored wrong. The kernel implements every setting
of `level_breakout` and of [risk] and [broker] (bot/kernel/params.py reads them all).
"""

from __future__ import annotations

from bot.settings import Settings
from bot.strategy import StrategyConfig
from strategies import REGISTRY
from strategies.level_breakout import LevelBreakout
from strategies.level_config import LevelBreakoutConfig


def unsupported(settings: Settings) -> str | None:
    """Why the kernel cannot score `settings` (the engine will), or None when it can."""
    return unsupported_strategy(settings.strategy)


def unsupported_strategy(st: StrategyConfig) -> str | None:
    """Why the kernel cannot find this strategy's signals, or None when it can."""
    entry = REGISTRY.get(st.name)
    if entry is None or entry.build is not LevelBreakout or type(st) is not LevelBreakoutConfig:
        return f"strategy {st.name!r}: the kernel implements level_breakout only"
    return None
