"""The level breakout strategy's thresholds and the names of its levels.

`LevelBreakoutConfig` is the [strategy] table of a config that names `level_breakout`
(the registry, strategies/__init__.py, validates the table with it and builds the
strategy from it); `describe_rules` says those rules in one line for reports. Each level
watched gets a name (`level_name` for a fixed price, `PEAK_LEVEL` for the moving 52-week
peak): the tag of its signals, so an exit pairs with the entry made on the same level.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bot.strategy import StrategyConfig

__all__ = ["PEAK_LEVEL", "LevelBreakoutConfig", "describe_rules", "level_name"]

PEAK_LEVEL = "peak_52w"  # the name of the moving 52-week peak, watched beside fixed levels


class LevelBreakoutConfig(StrategyConfig):
    """Thresholds of the level breakout rules (the [strategy] table of the config)."""

    name: Literal["level_breakout"] = "level_breakout"
    levels: list[Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)]] = Field(
        default_factory=lambda: [163.43], max_length=100
    )
    use_52w_peak: bool = True
    peak_lookback_sessions: int = Field(252, ge=2, le=2520)
    breakout_buffer_pct: float = Field(1.0, ge=0, le=50)
    breakdown_buffer_pct: float = Field(1.0, ge=0, le=50)
    confirm_closes: int = Field(2, ge=1, le=50)
    volume_multiple: float = Field(1.5, ge=0, le=100)
    volume_lookback: int = Field(20, ge=1, le=1000)
    rsi_filter: bool = False
    rsi_period: int = Field(14, ge=2, le=200)
    rsi_max: float = Field(70.0, gt=0, le=100)
    adx_filter: bool = False
    adx_period: int = Field(14, ge=2, le=200)
    adx_min: float = Field(20.0, ge=0, lt=100)

    @model_validator(mode="after")
    def _some_level(self) -> LevelBreakoutConfig:
        if not self.levels and not self.use_52w_peak:
            raise ValueError("no level to watch: set levels or use_52w_peak = true")
        return self


def describe_rules(cfg: LevelBreakoutConfig) -> str:
    """The rules in one line, for people reading a report."""
    levels = ", ".join(f"{v:g}" for v in cfg.levels)
    if cfg.use_52w_peak:
        levels += f" + 52-week peak ({cfg.peak_lookback_sessions} sessions)"
    text = (
        f"levels {levels}; {cfg.confirm_closes} confirming close(s), buffers "
        f"+{cfg.breakout_buffer_pct:g}%/-{cfg.breakdown_buffer_pct:g}%"
    )
    if cfg.volume_multiple > 0:
        text += f", volume >= {cfg.volume_multiple:g}x the {cfg.volume_lookback}-bar mean"
    if cfg.rsi_filter:
        text += f", RSI({cfg.rsi_period}) < {cfg.rsi_max:g}"
    if cfg.adx_filter:
        text += f", ADX({cfg.adx_period}) > {cfg.adx_min:g}"
    return text


def level_name(value: float) -> str:
    """The name of a fixed level, `resistance_163.43`: its signals' tag."""
    return f"resistance_{value:g}"
