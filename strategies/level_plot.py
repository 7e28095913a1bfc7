"""What the level breakout strategy's backtest chart shows beside prices and trades.

The fixed levels (flat lines), the 52-week peak as of each bar, the volume rule's
threshold and the RSI/ADX filters with their limits. The panels are computed with the
`ta` library over the whole series (warm-up bars included, so the first traded bar
already has its values), apart from the strategy's own incremental indicators; the peak
is replayed with the strategy's own `SessionPeak`. pandas and ta are imported here only,
when a chart is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import ta

from bot.indicators import SessionPeak
from bot.strategy import PlotSeries

if TYPE_CHECKING:
    from bot.data.series import BarSeries
    from strategies.level_config import LevelBreakoutConfig


def plot_series(cfg: LevelBreakoutConfig, bars: BarSeries) -> list[PlotSeries]:
    out = [
        PlotSeries(f"resistance {v:g}", float(v), color="darkorange", dash=True) for v in cfg.levels
    ]
    if cfg.use_52w_peak:
        out.append(PlotSeries("52-week peak", peak(cfg, bars), color="purple", bucket="max"))
    if cfg.volume_multiple > 0:
        rule = f"{cfg.volume_multiple:g}x the mean of the {cfg.volume_lookback} bars before"
        out.append(
            PlotSeries(
                "volume threshold",
                volume_threshold(cfg, bars),
                panel="volume",
                color="darkorange",
                width=1,
                bucket="sum",
                hover=f"breakout volume needed: {rule}",
            )
        )
    return out + oscillators(cfg, bars)


def peak(cfg: LevelBreakoutConfig, bars: BarSeries) -> np.ndarray:
    """The 52-week peak as of each bar (NaN while warming up): read before the bar is
    pushed, as the strategy reads it, so it never includes the bar itself."""
    p = SessionPeak(cfg.peak_lookback_sessions)
    out = np.full(len(bars), np.nan)
    sessions, highs, ts = bars.session.tolist(), bars.high.tolist(), bars.ts.tolist()
    for i in range(len(bars)):
        out[i] = p.update(sessions[i], highs[i], ts[i])[0]
    return out


def volume_threshold(cfg: LevelBreakoutConfig, bars: BarSeries) -> np.ndarray:
    """volume_multiple x the mean volume of the volume_lookback bars before each bar
    (never the bar itself)."""
    volume = pd.Series(bars.volume, dtype="float64")
    mean = ta.trend.SMAIndicator(volume, window=cfg.volume_lookback).sma_indicator()
    threshold: np.ndarray = (cfg.volume_multiple * mean.shift(1)).to_numpy(dtype="float64")
    return threshold


def oscillators(cfg: LevelBreakoutConfig, bars: BarSeries) -> list[PlotSeries]:
    """RSI and/or ADX with the limit a breakout must pass, for the filters that are on."""
    close = pd.Series(bars.close, dtype="float64")
    out: list[PlotSeries] = []
    if cfg.rsi_filter:
        rsi = ta.momentum.RSIIndicator(close, window=cfg.rsi_period).rsi().to_numpy()
        rule = f"breakout needs RSI({cfg.rsi_period}) < {cfg.rsi_max:g}"
        out += _with_limit("RSI", rsi, cfg.rsi_max, rule, "teal")
    if cfg.adx_filter:
        high = pd.Series(bars.high, dtype="float64")
        low = pd.Series(bars.low, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):  # flat stretches: 0 / 0
            adx = ta.trend.ADXIndicator(high, low, close, window=cfg.adx_period).adx()
        values = adx.to_numpy(dtype="float64", copy=True)
        # ta writes 0 where ADX does not exist yet; it starts at bar 2n - 1.
        values[: 2 * cfg.adx_period - 1] = np.nan
        rule = f"breakout needs ADX({cfg.adx_period}) > {cfg.adx_min:g}"
        out += _with_limit("ADX", values, cfg.adx_min, rule, "sienna")
    return out


def _with_limit(
    name: str, values: np.ndarray, limit: float, rule: str, color: str
) -> list[PlotSeries]:
    return [
        PlotSeries(name, values, panel="oscillator", color=color),
        PlotSeries(
            f"{name} limit", limit, panel="oscillator", color=color, dash=True, width=1, hover=rule
        ),
    ]
