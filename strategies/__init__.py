"""The strategies users can run, by name: each one's config model and class.

The only place that knows which strategies exist (no folder scanning: the list is
explicit). The config's `[strategy] name` picks one; the settings validate the rest of
that table with its model, and every command builds it with `build_strategy`. Adding a
strategy: one module in this folder and one line in REGISTRY (README, "Adding a
strategy").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from bot.strategy import Strategy, StrategyConfig
from strategies.level_breakout import LevelBreakout
from strategies.level_config import LevelBreakoutConfig
from strategies.sma_cross import SmaCross, SmaCrossConfig


@dataclass(frozen=True)
class Registered:
    config: type[StrategyConfig]  # its [strategy] table; `name` defaults to its name
    build: Callable[[Any], Strategy]  # called with a validated `config`
    # The module of its compiled signal kernel (`for_config(cfg)`, see bot/kernel/run.py),
    # imported only where numba is installed; None: sweeps and scans run `build`'s object.
    kernel: str | None = None


REGISTRY: dict[str, Registered] = {
    "level_breakout": Registered(LevelBreakoutConfig, LevelBreakout, "strategies.level_kernel"),
    "sma_cross": Registered(SmaCrossConfig, SmaCross),
}
DEFAULT = "level_breakout"  # when the [strategy] table names none


class UnknownStrategy(ValueError):
    def __init__(self, name: object) -> None:
        super().__init__(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}")


def config_model(name: object) -> type[StrategyConfig]:
    """The config model of the strategy called `name`; UnknownStrategy if there is none."""
    found = REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownStrategy(name)
    return found.config


def config_model_for(table: object) -> type[StrategyConfig]:
    """The model that validates a [strategy] table (a mapping or a config object)."""
    if isinstance(table, StrategyConfig):
        return config_model(table.name)
    name = table.get("name", DEFAULT) if isinstance(table, Mapping) else DEFAULT
    return config_model(name)


def any_config() -> Any:
    """Any registered config model (a Union), the [strategy] table's annotation: the
    settings validate a table with the model its `name` picks, but pydantic-settings
    reads the type of a nested environment variable (BOT_STRATEGY__LEVELS as JSON) from
    the annotation."""
    return Union[tuple(entry.config for entry in REGISTRY.values())]  # noqa: UP007


def default_config() -> StrategyConfig:
    return REGISTRY[DEFAULT].config.model_validate({})


def build_strategy(cfg: StrategyConfig) -> Strategy:
    """A fresh strategy object for the config's `name`."""
    entry = REGISTRY.get(cfg.name)
    if entry is None:
        raise UnknownStrategy(cfg.name)
    return entry.build(cfg)
