"""Charts of a backtest: an interactive plotly HTML file and an optional static PNG.

Presentation only: reads a finished `BacktestResult`, decides nothing, imports no
broker. The HTML embeds plotly.js (about 4 MB) so it opens offline. Times are shown as
US/Eastern wall-clock times (plotly has no time zones; the axis says so).

Large runs: above `MAX_POINTS` bars the chart is drawn from buckets of k consecutive
bars (k = ceil(bars / MAX_POINTS)), so a million 1-minute bars still give a usable
file: a bucket's candle is first open, max high, min low, last close; equity is the
last value, drawdown the deepest, the 52-week peak the highest in the bucket. Trade
markers and level lines are never bucketed. metrics.json and equity.csv are computed
from every bar, whatever the chart shows.
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

from bot.backtest import BacktestResult
from bot.indicators import SessionPeak
from bot.models import ET, ns_to_et
from bot.report import drawdown_pct

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
    peak: np.ndarray | None  # None when the strategy does not watch the 52-week peak
    levels: list[float]
    entries: list[Marker]
    exits: list[Marker]
    bucket: int  # bars per point; 1 = every bar drawn


def _wall(ts_ns: np.ndarray) -> np.ndarray:
    idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts_ns, dtype="int64"), utc=True))
    return idx.tz_convert(ET).tz_localize(None).to_numpy()


def peak_series(result: BacktestResult) -> np.ndarray:
    """The 52-week peak as of each traded bar (NaN while warming up).

    Replayed over `result.source` from its first bar, as the strategy saw it: the peak
    is read before the bar is pushed, so it never includes the bar itself.
    """
    cfg = result.settings.strategy
    src = result.source
    start = result.warmup_bars
    stop = start + len(result.bars)
    peak = SessionPeak(cfg.peak_lookback_sessions)
    out = np.full(len(result.bars), np.nan)
    sessions, highs, ts = src.session.tolist(), src.high.tolist(), src.ts.tolist()
    for i in range(stop):
        p, _ = peak.peak(sessions[i])
        peak.push(sessions[i], highs[i], ts[i])
        if i >= start:
            out[i - start] = p
    return out


def chart_data(result: BacktestResult) -> ChartData:
    bars = result.bars
    n = len(bars)
    if n == 0:
        raise ValueError("no bars to chart")
    cfg = result.settings.strategy
    close = bars.close
    equity = np.asarray(result.equity, dtype="float64")
    buy_hold = result.initial_cash * close / close[0]
    dd = drawdown_pct(equity)
    peak = peak_series(result) if cfg.use_52w_peak else None
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
    if k > 1 and peak is not None:
        # fmax ignores NaN, so a bucket that is only partly warmed up still shows a peak.
        peak = np.fmax.reduceat(peak, starts)
    return ChartData(
        x=_wall(bars.ts[starts]),
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=close[last],
        equity=equity[last],
        buy_hold=buy_hold[last],
        drawdown_pct=np.minimum.reduceat(dd, starts),
        peak=peak,
        levels=[float(v) for v in cfg.levels],
        entries=entries,
        exits=exits,
        bucket=k,
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
    """Price with levels and trades / equity / drawdown, one shared time axis."""
    d = chart_data(result) if data is None else data
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.6, 0.22, 0.18],
    )
    fig.add_trace(
        go.Candlestick(x=d.x, open=d.open, high=d.high, low=d.low, close=d.close, name="price"),
        row=1,
        col=1,
    )
    ends = [d.x[0], d.x[-1]]
    for value in d.levels:
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=[value, value],
                name=f"resistance {value:g}",
                mode="lines",
                line={"dash": "dash", "color": "darkorange"},
            ),
            row=1,
            col=1,
        )
    if d.peak is not None:
        fig.add_trace(
            go.Scatter(
                x=d.x, y=d.peak, name="52-week peak", mode="lines", line={"color": "purple"}
            ),
            row=1,
            col=1,
        )
    fig.add_trace(_markers("entries", d.entries, "triangle-up", "green"), row=1, col=1)
    fig.add_trace(_markers("exits", d.exits, "triangle-down", "red"), row=1, col=1)
    fig.add_trace(go.Scatter(x=d.x, y=d.equity, name="equity", mode="lines"), row=2, col=1)
    fig.add_trace(
        go.Scatter(x=d.x, y=d.buy_hold, name="buy & hold", mode="lines", line={"dash": "dot"}),
        row=2,
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
        row=3,
        col=1,
    )
    # Hide the hours with no bars, or most of an intraday chart is empty overnight.
    breaks: list[dict[str, object]] = [{"bounds": ["sat", "mon"]}]
    if result.bars.timeframe != "1d":
        breaks.append({"bounds": [16, 9.5], "pattern": "hour"})
    fig.update_xaxes(rangebreaks=breaks)
    fig.update_xaxes(title_text="US/Eastern", row=3, col=1)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="equity", row=2, col=1)
    fig.update_yaxes(title_text="drawdown %", row=3, col=1)
    fig.update_layout(
        title=_title(result, d),
        height=900,
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
    fig = Figure(figsize=(13, 8), layout="constrained")
    FigureCanvasAgg(fig)
    price, eq = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    price.plot(d.x, d.close, color="black", linewidth=0.8, label="close")
    for value in d.levels:
        price.axhline(value, color="darkorange", linestyle="--", label=f"resistance {value:g}")
    if d.peak is not None:
        price.plot(d.x, d.peak, color="purple", linewidth=0.9, label="52-week peak")
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
