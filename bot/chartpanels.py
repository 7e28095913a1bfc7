"""What the backtest chart shows beside prices and trades: signals not given, the volume
rule, the RSI/ADX filters and the days without a bar.

Presentation only, like `bot.chart`: reads a finished `BacktestResult`, decides nothing,
imports no broker. The panels are computed with the `ta` library over the whole source
(warm-up bars included, so the first traded bar already has its values), apart from the
strategy's own incremental indicators. Signals not given come from two places:

- refused: signals the engine turned down (risk, guards, broker: `record.rejections`);
- filtered: breakouts and breakdowns the rules did not give (the volume rule, an RSI/ADX
  filter, too few confirming closes). The backtest does not record them, so its loop stays
  as fast as ever: the strategy is replayed here over the same bars with its recording on
  (`record_near_misses()`), which gives the very same signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import ta

from bot.models import ET, Rejection, ns_to_et
from strategies import build_strategy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bot.backtest import BacktestResult


@dataclass(frozen=True)
class Missed:
    """A signal that was not acted on, placed at its bar's close."""

    time: datetime  # naive US/Eastern wall-clock time
    price: float
    what: str  # e.g. "breakout resistance_163.43"
    reason: str

    @property
    def down(self) -> bool:
        return self.what.startswith("breakdown")


@dataclass(frozen=True)
class Oscillator:
    """One filter's indicator line (0-100) and the limit a breakout must pass."""

    name: str  # "RSI" / "ADX"
    values: np.ndarray  # per traded bar; NaN while warming up
    limit: float
    rule: str  # e.g. "breakout needs RSI(14) < 70"


def _traded(result: BacktestResult) -> tuple[int, int]:
    start = result.warmup_bars
    return start, start + len(result.bars)


def _missed(result: BacktestResult, rejections: list[Rejection]) -> list[Missed]:
    """Rejections placed at the close of their bar (those outside the traded range: none)."""
    bars = result.bars
    out: list[Missed] = []
    for rej in sorted(rejections, key=lambda r: r.ts):
        i = int(np.searchsorted(bars.ts, rej.ts))
        if i < len(bars) and int(bars.ts[i]) == rej.ts:
            when = ns_to_et(rej.ts).replace(tzinfo=None)
            out.append(Missed(when, float(bars.close[i]), rej.what, rej.reason))
    return out


def refused(result: BacktestResult) -> list[Missed]:
    return _missed(result, result.record.rejections)


def filtered(result: BacktestResult) -> list[Missed]:
    """The strategy's near misses on the traded bars, replayed from the first source bar."""
    strategy = build_strategy(result.settings.strategy)
    start_recording: Callable[[], list[Rejection]] | None = getattr(
        strategy, "record_near_misses", None
    )
    if start_recording is None:  # a strategy that cannot say: nothing to show
        return []
    found = start_recording()
    _, stop = _traded(result)
    on_bar = strategy.on_bar
    for bar in result.source.iter_bars(0, stop):
        on_bar(bar)
    return _missed(result, found)


def volume_threshold(result: BacktestResult) -> np.ndarray | None:
    """The volume rule's bar: volume_multiple x the mean volume of the volume_lookback
    bars before each bar (never the bar itself). None when the rule is off."""
    cfg = result.settings.strategy
    if cfg.volume_multiple <= 0:
        return None
    start, stop = _traded(result)
    volume = pd.Series(result.source.volume[:stop], dtype="float64")
    mean = ta.trend.SMAIndicator(volume, window=cfg.volume_lookback).sma_indicator()
    threshold: np.ndarray = (cfg.volume_multiple * mean.shift(1)).to_numpy(dtype="float64")
    return threshold[start:stop]


def oscillators(result: BacktestResult) -> list[Oscillator]:
    """RSI and/or ADX, for the filters that are on."""
    cfg = result.settings.strategy
    start, stop = _traded(result)
    src = result.source
    close = pd.Series(src.close[:stop], dtype="float64")
    out: list[Oscillator] = []
    if cfg.rsi_filter:
        rsi = ta.momentum.RSIIndicator(close, window=cfg.rsi_period).rsi().to_numpy()
        rule = f"breakout needs RSI({cfg.rsi_period}) < {cfg.rsi_max:g}"
        out.append(Oscillator("RSI", rsi[start:stop], cfg.rsi_max, rule))
    if cfg.adx_filter:
        high = pd.Series(src.high[:stop], dtype="float64")
        low = pd.Series(src.low[:stop], dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):  # flat stretches: 0 / 0
            adx = ta.trend.ADXIndicator(high, low, close, window=cfg.adx_period).adx()
        values = adx.to_numpy(dtype="float64", copy=True)
        # ta writes 0 where ADX does not exist yet; it starts at bar 2n - 1.
        values[: 2 * cfg.adx_period - 1] = np.nan
        rule = f"breakout needs ADX({cfg.adx_period}) > {cfg.adx_min:g}"
        out.append(Oscillator("ADX", values[start:stop], cfg.adx_min, rule))
    return out


def missing_weekdays(ts_ns: np.ndarray) -> list[str]:
    """Weekdays between the first and last bar with no bar at all (market holidays),
    as YYYY-MM-DD: plotly hides them (rangebreaks) as it hides weekends."""
    if len(ts_ns) == 0:
        return []
    wall = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts_ns, dtype="int64"), utc=True))
    days = wall.tz_convert(ET).tz_localize(None).normalize().unique()
    every = pd.bdate_range(days[0], days[-1])
    return [d.strftime("%Y-%m-%d") for d in every.difference(days)]


def bucket_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum over each bucket (NaN if any bar in it is NaN: not warmed up yet)."""
    return np.add.reduceat(np.asarray(values, dtype="float64"), starts)


# ---------------------------------------------------------------- plotly


def missed_trace(name: str, marks: list[Missed], color: str) -> go.Scatter:
    """Signals not acted on, at their bar's close, what and why on hover: refused ones
    as crosses, filtered ones as open triangles (up: breakout, down: breakdown)."""
    refused = name == "refused"
    return go.Scatter(
        x=[m.time for m in marks],
        y=[m.price for m in marks],
        name=name,
        mode="markers",
        marker={
            "symbol": [
                "x" if refused else "triangle-down-open" if m.down else "triangle-up-open"
                for m in marks
            ],
            "size": 9,
            "color": color,
        },
        hovertext=[f"{m.what}: {m.reason}" for m in marks],
        hovertemplate="%{x}<br>close %{y:.2f}<br>%{hovertext}<extra>" + name + "</extra>",
    )


def volume_traces(
    x: np.ndarray, volume: np.ndarray, threshold: np.ndarray | None, rule: str
) -> list[go.Bar | go.Scatter]:
    traces: list[go.Bar | go.Scatter] = [
        go.Bar(x=x, y=volume, name="volume", marker={"color": "lightsteelblue"})
    ]
    if threshold is not None:
        traces.append(
            go.Scatter(
                x=x,
                y=threshold,
                name="volume threshold",
                mode="lines",
                line={"color": "darkorange", "width": 1},
                hovertemplate="%{x}<br>%{y:,.0f}<extra>breakout volume needed: "
                + rule
                + "</extra>",
            )
        )
    return traces


_COLORS = {"RSI": "teal", "ADX": "sienna"}


def oscillator_traces(x: np.ndarray, oscillators: list[Oscillator]) -> list[go.Scatter]:
    traces: list[go.Scatter] = []
    for osc in oscillators:
        color = _COLORS.get(osc.name, "gray")
        traces.append(
            go.Scatter(x=x, y=osc.values, name=osc.name, mode="lines", line={"color": color})
        )
        traces.append(
            go.Scatter(
                x=[x[0], x[-1]],
                y=[osc.limit, osc.limit],
                name=f"{osc.name} limit",
                mode="lines",
                line={"color": color, "dash": "dash", "width": 1},
                hovertemplate=f"{osc.rule}<extra></extra>",
            )
        )
    return traces


# ---------------------------------------------------------------- matplotlib (PNG)


def draw_missed(ax: Axes, filtered: list[Missed], refused: list[Missed]) -> None:
    if filtered:
        ax.scatter(
            np.array([m.time for m in filtered], dtype="datetime64[ns]"),
            [m.price for m in filtered],
            marker="^",
            s=30,
            facecolors="none",
            edgecolors="slategray",
            label="filtered",
            zorder=2,
        )
    if refused:
        ax.scatter(
            np.array([m.time for m in refused], dtype="datetime64[ns]"),
            [m.price for m in refused],
            marker="x",
            s=30,
            color="crimson",
            label="refused",
            zorder=2,
        )


def draw_volume(
    ax: Axes, x: np.ndarray, volume: np.ndarray, threshold: np.ndarray | None, rule: str
) -> None:
    ax.fill_between(x, volume, step="post", color="lightsteelblue", label="volume")
    if threshold is not None:
        ax.plot(x, threshold, color="darkorange", linewidth=0.8, label=f"threshold: {rule}")
    ax.set_ylabel("volume")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)


def draw_oscillators(ax: Axes, x: np.ndarray, oscillators: list[Oscillator]) -> None:
    for osc in oscillators:
        color = _COLORS.get(osc.name, "gray")
        ax.plot(x, osc.values, color=color, linewidth=0.8, label=osc.name)
        ax.axhline(osc.limit, color=color, linestyle="--", linewidth=0.8, label=osc.rule)
    ax.set_ylim(0, 100)
    ax.set_ylabel(" / ".join(o.name for o in oscillators))
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
