"""What the backtest chart shows beside prices and trades: the strategy's own series,
signals not given and the days without a bar.

Presentation only, like `bot.report.chart`: reads a finished `BacktestResult`, decides nothing,
imports no broker. The strategy says what to draw (`Strategy.plot`: its levels, averages,
thresholds, oscillators), computed over the whole source (warm-up bars included, so the
first traded bar already has its values). Signals not given come from two places:

- refused: signals the engine turned down (risk, guards, broker: `record.rejections`);
- filtered: signals the strategy's rules held back (a filter, too few confirmations),
  when the strategy can record them. The backtest does not, so its loop stays as fast as
  ever: the strategy is replayed here over the same bars with its recording on
  (`record_near_misses()`), which gives the very same signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bot.models import ET, Direction, Rejection, ns_to_et
from bot.strategy import PlotSeries
from strategies import build_strategy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bot.engine.backtest import BacktestResult


@dataclass(frozen=True)
class Missed:
    """A signal that was not acted on, placed at its bar's close."""

    time: datetime  # naive US/Eastern wall-clock time
    price: float
    what: str  # the signal's kind and tag
    reason: str
    down: bool = False  # a signal pointing down (drawn as a downward triangle)


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
            down = rej.direction is Direction.SHORT
            out.append(Missed(when, float(bars.close[i]), rej.what, rej.reason, down))
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


def strategy_series(result: BacktestResult) -> list[PlotSeries]:
    """The strategy's chart series over the traded bars, computed from the first source
    bar (so indicators are warm at the first traded bar)."""
    start, stop = _traded(result)
    strategy = build_strategy(result.settings.strategy)
    out: list[PlotSeries] = []
    for s in strategy.plot(result.source.slice(0, stop)):
        values = s.values
        if isinstance(values, np.ndarray):
            values = np.asarray(values, dtype="float64")[start:stop]
        out.append(replace(s, values=values))
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
    as crosses, filtered ones as open triangles (pointing the signal's way)."""
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


def series_trace(x: np.ndarray, s: PlotSeries) -> go.Scatter:
    """A strategy's series; a flat line (a float) spans the chart with two points."""
    line: dict[str, object] = {"color": s.color}
    if s.dash:
        line["dash"] = "dash"
    if s.width is not None:
        line["width"] = s.width
    flat = not isinstance(s.values, np.ndarray)
    ys = [s.values, s.values] if flat else s.values
    trace = go.Scatter(x=[x[0], x[-1]] if flat else x, y=ys, name=s.name, mode="lines", line=line)
    if s.hover:
        hover = s.hover + "<extra></extra>"
        trace.hovertemplate = hover if flat else "%{x}<br>%{y:,.2f}<extra>" + s.hover + "</extra>"
    return trace


def volume_trace(x: np.ndarray, volume: np.ndarray) -> go.Bar:
    return go.Bar(x=x, y=volume, name="volume", marker={"color": "lightsteelblue"})


def bucket(s: PlotSeries, starts: np.ndarray, last: np.ndarray) -> PlotSeries:
    """A series drawn from buckets of bars: its last, highest or summed value (fmax and
    the sum keep NaN as the chart needs: a partly warmed-up bucket still has a high, a
    sum over a bar without a value has none)."""
    v = s.values
    if not isinstance(v, np.ndarray):
        return s
    if s.bucket == "max":
        v = np.fmax.reduceat(v, starts)
    elif s.bucket == "sum":
        v = bucket_sum(v, starts)
    else:
        v = v[last]
    return replace(s, values=v)


# ---------------------------------------------------------------- matplotlib (PNG)


def draw_series(ax: Axes, x: np.ndarray, series: list[PlotSeries]) -> None:
    for s in series:
        label = f"{s.name}: {s.hover}" if s.hover else s.name
        style = "--" if s.dash else "-"
        width = 0.8 if s.width is None else s.width
        if isinstance(s.values, np.ndarray):
            ax.plot(x, s.values, color=s.color, linestyle=style, linewidth=width, label=label)
        else:
            ax.axhline(s.values, color=s.color, linestyle=style, linewidth=width, label=label)


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


def draw_volume(ax: Axes, x: np.ndarray, volume: np.ndarray, series: list[PlotSeries]) -> None:
    ax.fill_between(x, volume, step="post", color="lightsteelblue", label="volume")
    draw_series(ax, x, series)
    ax.set_ylabel("volume")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)


def draw_oscillators(ax: Axes, x: np.ndarray, series: list[PlotSeries]) -> None:
    draw_series(ax, x, series)
    ax.set_ylim(0, 100)
    ax.set_ylabel(oscillator_title(series))
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)


def oscillator_title(series: list[PlotSeries]) -> str:
    """The names of the lines (not the flat limits) of the 0-100 panel."""
    return " / ".join(s.name for s in series if isinstance(s.values, np.ndarray))
