"""Charts of a backtest: an interactive plotly HTML file and an optional static PNG.

Presentation only: reads a finished `BacktestResult`, decides nothing, imports no
broker. The HTML embeds plotly.js (about 4 MB) so it opens offline. Times are shown as
US/Eastern wall-clock times (plotly has no time zones; the axis says so); weekends,
weekdays without a bar (holidays) and, on intraday bars, the nights are left out.

Panels: price with the strategy's series (levels, averages...), the trades and the
signals not acted on (refused by risk, or filtered by the rules: the reason is on
hover); volume (with the strategy's volume series, if any); a 0-100 panel when the
strategy has oscillators; equity; drawdown. The strategy says what its series are
(`Strategy.plot`); `bot.report.panels` computes the extra panels and markers.

Large runs: above `MAX_POINTS` bars the chart is drawn from buckets of k consecutive
bars (k = ceil(bars / MAX_POINTS)), so a million 1-minute bars still give a usable
file: a bucket's candle is first open, max high, min low, last close; equity is the
last value, drawdown the deepest, volume the sum over the bucket, a strategy's series
as it asks (its last value, highest, or sum). Trade markers, signals not acted on and
flat lines are never bucketed. metrics.json and equity.csv are computed from every bar,
whatever the chart shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bot.engine.backtest import BacktestResult
from bot.models import ET, ns_to_et
from bot.report import panels
from bot.report.panels import Missed
from bot.report.runfolder import drawdown_pct
from bot.strategy import PlotSeries

MAX_POINTS = 20_000


@dataclass(frozen=True)
class Marker:
    time: datetime  # naive US/Eastern wall-clock time
    price: float
    reason: str


@dataclass(frozen=True)
class ChartData:
    """What both charts draw, already bucketed when the run is large."""

    x: np.ndarray  # datetime64, naive US/Eastern (a bucket's first bar)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    equity: np.ndarray
    buy_hold: np.ndarray  # initial cash held in the stock from the first close
    drawdown_pct: np.ndarray
    series: list[PlotSeries]  # the strategy's, bucketed like the candles
    entries: list[Marker]
    exits: list[Marker]
    bucket: int  # bars per point; 1 = every bar drawn
    volume: np.ndarray
    refused: list[Missed]  # signals risk refused
    filtered: list[Missed]  # signals the strategy's rules held back
    holidays: list[str]  # weekdays without a bar (YYYY-MM-DD)

    def panel(self, name: str) -> list[PlotSeries]:
        return [s for s in self.series if s.panel == name]


def _wall(ts_ns: np.ndarray) -> np.ndarray:
    idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts_ns, dtype="int64"), utc=True))
    return idx.tz_convert(ET).tz_localize(None).to_numpy()


def chart_data(result: BacktestResult) -> ChartData:
    bars = result.bars
    n = len(bars)
    if n == 0:
        raise ValueError("no bars to chart")
    close = bars.close
    equity = np.asarray(result.equity, dtype="float64")
    buy_hold = result.initial_cash * close / close[0]
    dd = drawdown_pct(equity)
    k = max(1, math.ceil(n / MAX_POINTS))
    starts = np.arange(0, n, k)
    last = np.minimum(starts + k, n) - 1
    entries = [
        Marker(ns_to_et(t.entry_ts).replace(tzinfo=None), t.entry_price, t.entry_reason)
        for t in result.trades
    ]
    exits = [
        Marker(ns_to_et(t.exit_ts).replace(tzinfo=None), t.exit_price, t.exit_reason)
        for t in result.trades
    ]
    if result.position[-1] != 0:
        entries.append(_open_entry(result))
    series = panels.strategy_series(result)
    if k > 1:
        series = [panels.bucket(s, starts, last) for s in series]
    return ChartData(
        x=_wall(bars.ts[starts]),
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=close[last],
        equity=equity[last],
        buy_hold=buy_hold[last],
        drawdown_pct=np.minimum.reduceat(dd, starts),
        series=series,
        entries=entries,
        exits=exits,
        bucket=k,
        volume=panels.bucket_sum(bars.volume, starts),
        refused=panels.refused(result),
        filtered=panels.filtered(result),
        holidays=panels.missing_weekdays(bars.ts),
    )


def _open_entry(result: BacktestResult) -> Marker:
    """The entry of a position still open at the end (it is in no closed trade)."""
    rec = result.record
    fill = next(f for f in reversed(rec.fills) if f.purpose == "entry")
    why = next((i.reason for i in rec.intents if i.client_order_id == fill.client_order_id), "")
    return Marker(ns_to_et(fill.ts).replace(tzinfo=None), fill.price, f"{why} (still open)")


def _title(result: BacktestResult, data: ChartData) -> str:
    title = f"{result.settings.symbol} {result.bars.timeframe}: {result.settings.strategy.name}"
    if data.bucket > 1:
        title += f" (each candle = {data.bucket} bars, {len(result.bars):,} bars in all)"
    return title


def _markers(name: str, marks: list[Marker], symbol: str, color: str) -> go.Scatter:
    # Plain lists (not numpy) so the prices are readable numbers in the HTML, not base64.
    return go.Scatter(
        x=[m.time for m in marks],
        y=[m.price for m in marks],
        name=name,
        mode="markers",
        marker={"symbol": symbol, "size": 12, "color": color, "line": {"width": 1}},
        hovertext=[m.reason for m in marks],
        hovertemplate="%{x}<br>%{y:.2f}<br>%{hovertext}<extra>" + name + "</extra>",
    )


def build_figure(result: BacktestResult, data: ChartData | None = None) -> go.Figure:
    """Price with the strategy's series, trades and signals not acted on / volume /
    the strategy's oscillators (if any) / equity / drawdown, one shared time axis."""
    d = chart_data(result) if data is None else data
    oscillators = d.panel("oscillator")
    osc_row = 3 if oscillators else None
    eq_row = 4 if oscillators else 3
    heights = [0.46, 0.12, 0.12, 0.16, 0.14] if oscillators else [0.52, 0.14, 0.18, 0.16]
    fig = make_subplots(
        rows=len(heights),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.025,
        row_heights=heights,
    )
    fig.add_trace(
        go.Candlestick(x=d.x, open=d.open, high=d.high, low=d.low, close=d.close, name="price"),
        row=1,
        col=1,
    )
    for s in d.panel("price"):
        fig.add_trace(panels.series_trace(d.x, s), row=1, col=1)
    fig.add_trace(_markers("entries", d.entries, "triangle-up", "green"), row=1, col=1)
    fig.add_trace(_markers("exits", d.exits, "triangle-down", "red"), row=1, col=1)
    fig.add_trace(panels.missed_trace("filtered", d.filtered, "slategray"), row=1, col=1)
    fig.add_trace(panels.missed_trace("refused", d.refused, "crimson"), row=1, col=1)
    fig.add_trace(panels.volume_trace(d.x, d.volume), row=2, col=1)
    for s in d.panel("volume"):
        fig.add_trace(panels.series_trace(d.x, s), row=2, col=1)
    if osc_row is not None:
        for s in oscillators:
            fig.add_trace(panels.series_trace(d.x, s), row=osc_row, col=1)
        title = panels.oscillator_title(oscillators)
        fig.update_yaxes(title_text=title, range=[0, 100], row=osc_row, col=1)
    fig.add_trace(go.Scatter(x=d.x, y=d.equity, name="equity", mode="lines"), row=eq_row, col=1)
    fig.add_trace(
        go.Scatter(x=d.x, y=d.buy_hold, name="buy & hold", mode="lines", line={"dash": "dot"}),
        row=eq_row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=d.x,
            y=d.drawdown_pct,
            name="drawdown %",
            mode="lines",
            fill="tozeroy",
            line={"color": "firebrick"},
        ),
        row=eq_row + 1,
        col=1,
    )
    # Hide the days and hours with no bars: weekends, holidays, and on intraday bars the
    # nights, or candles stand apart across gaps and an intraday chart is mostly empty.
    breaks: list[dict[str, object]] = [{"bounds": ["sat", "mon"]}]
    if d.holidays:
        breaks.append({"values": d.holidays})
    if result.bars.timeframe != "1d":
        breaks.append({"bounds": [16, 9.5], "pattern": "hour"})
    fig.update_xaxes(rangebreaks=breaks)
    fig.update_xaxes(title_text="US/Eastern", row=eq_row + 1, col=1)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    fig.update_yaxes(title_text="equity", row=eq_row, col=1)
    fig.update_yaxes(title_text="drawdown %", row=eq_row + 1, col=1)
    fig.update_layout(
        title=_title(result, d),
        height=1050 if oscillators else 950,
        xaxis_rangeslider_visible=False,
        hovermode="closest",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def write_chart(result: BacktestResult, html_path: Path, png_path: Path | None = None) -> None:
    """Write the interactive chart (self-contained HTML) and, if asked, a static PNG."""
    data = chart_data(result)
    fig = build_figure(result, data)
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    # Embed plotly.js: a CDN link would leave a blank page on an offline machine.
    fig.write_html(html_path, include_plotlyjs=True, full_html=True)
    if png_path is not None:
        write_png(result, Path(png_path), data)


def write_png(result: BacktestResult, png_path: Path, data: ChartData | None = None) -> None:
    """A static chart with matplotlib's Agg canvas (no display, no browser, no kaleido)."""
    # Imported here: matplotlib takes most of a second to import and only --png needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = chart_data(result) if data is None else data
    oscillators = d.panel("oscillator")
    ratios = [3.0, 0.8, 0.8, 1.0] if oscillators else [3.0, 0.8, 1.0]
    fig = Figure(figsize=(13, 10 if oscillators else 9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
    price, vol, eq = axes[0], axes[1], axes[-1]
    price.plot(d.x, d.close, color="black", linewidth=0.8, label="close")
    panels.draw_series(price, d.x, d.panel("price"))
    for name, marks, shape, color in (
        ("entries", d.entries, "^", "green"),
        ("exits", d.exits, "v", "red"),
    ):
        if marks:
            times, prices = [m.time for m in marks], [m.price for m in marks]
            price.scatter(
                times,
                prices,
                marker=shape,
                s=80,
                color=color,
                edgecolors="black",
                label=name,
                zorder=3,
            )
    panels.draw_missed(price, d.filtered, d.refused)
    panels.draw_volume(vol, d.x, d.volume, d.panel("volume"))
    if oscillators:
        panels.draw_oscillators(axes[2], d.x, oscillators)
    price.set_title(_title(result, d))
    price.set_ylabel("price")
    price.legend(loc="upper left", fontsize="small")
    price.grid(alpha=0.3)
    eq.plot(d.x, d.equity, label="equity")
    eq.plot(d.x, d.buy_hold, linestyle=":", label="buy & hold")
    eq.set_ylabel("equity")
    eq.set_xlabel("US/Eastern")
    eq.legend(loc="upper left", fontsize="small")
    eq.grid(alpha=0.3)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100, format="png")
