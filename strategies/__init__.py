"""Strategies users can run, looked up by name (no folder scanning: the list is explicit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.strategy import Strategy
from strategies.level_breakout import LevelBreakout, LevelBreakoutConfig

REGISTRY: dict[str, Callable[[Any], Strategy]] = {
    "level_breakout": LevelBreakout,
}


def build_strategy(cfg: LevelBreakoutConfig) -> Strategy:
    """A fresh strategy object for the config's `name`."""
    try:
        factory = REGISTRY[cfg.name]
    except KeyError:
        raise ValueError(f"unknown strategy {cfg.name!r}; known: {', '.join(REGISTRY)}") from None
    return factory(cfg)
