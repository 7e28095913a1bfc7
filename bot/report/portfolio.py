"""The run folder of a portfolio backtest: the account's figures and curve, and each
symbol's own run folder.

- `metrics.json`: `portfolio` (the account: its equity curve's figures, every trade)
  and `symbols` (each one's figures on its contribution curve: the initial cash plus
  what that symbol made, so a symbol's return is its share of the account's).
- `equity.csv`: the account's equity, gross exposure and drawdown at every time.
- `trades.csv`: every trade of every symbol, with its symbol, by exit time.
- `chart.html`: the account's equity with each symbol's contribution beneath it.
- `<SYMBOL>/`: that symbol's run folder, as a single-symbol backtest writes it (its
  chart, trades, signals, refusals: a portfolio limit's refusal among them).

Buy and hold of a portfolio is the watchlist held in equal parts from the first time
each symbol has a bar.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bot.engine.multirun import PortfolioResult
from bot.models import ET
from bot.report.metrics import drawdown_pct, performance
from bot.report.runfolder import (
    TRADE_COLUMNS,
    Metrics,
    compute_metrics,
    iso_times,
    trade_rows,
    write_csv,
    write_run,
)


def equal_weight_close(result: PortfolioResult) -> np.ndarray:
    """An index of the watchlist held in equal parts: each symbol's close over its first,
    held between its bars (1.0 before its first), averaged."""
    parts = []
    for r in result.results.values():
        at = np.searchsorted(r.bars.ts, result.times, side="right") - 1
        rel = np.ones(len(result.times))
        seen = at >= 0
        rel[seen] = r.bars.close[at[seen]] / r.bars.close[0]
        parts.append(rel)
    return np.asarray(np.mean(parts, axis=0), dtype="float64")


def portfolio_metrics(result: PortfolioResult) -> Metrics:
    trades = sorted((t for r in result.results.values() for t in r.trades), key=lambda t: t.exit_ts)
    figures = performance(
        result.equity,
        result.gross,  # exposure: the share of times with any position
        result.times,
        equal_weight_close(result),
        trades,
        result.periods_per_year,
        result.initial_cash,
    )
    times = pd.DatetimeIndex(pd.to_datetime(result.times, utc=True)).tz_convert(ET)
    head: Metrics = {
        "symbols": ",".join(result.symbols),
        "start": times[0].isoformat(),
        "end": times[-1].isoformat(),
        "bars": figures.pop("bars"),
        "initial_cash": float(result.initial_cash),
    }
    return head | figures


def write_portfolio_run(
    result: PortfolioResult, out_dir: Path, png: bool = False
) -> dict[str, Path]:
    """Write the folder; returns file kind -> path (each symbol's folder as `<SYMBOL>/`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    summary = {
        "portfolio": portfolio_metrics(result),
        "symbols": {sym: compute_metrics(r) for sym, r in result.results.items()},
    }
    files["metrics"] = out_dir / "metrics.json"
    files["metrics"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    frame = pd.DataFrame(
        {
            "time": iso_times(result.times),
            "equity": result.equity,
            "gross_exposure": result.gross,
            "drawdown_pct": drawdown_pct(result.equity),
        }
    ).round(6)
    files["equity"] = out_dir / "equity.csv"
    frame.to_csv(files["equity"], index=False)
    trades = sorted((t for r in result.results.values() for t in r.trades), key=lambda t: t.exit_ts)
    rows = [[t.symbol, *row] for t, row in zip(trades, trade_rows(trades), strict=True)]
    files["trades"] = write_csv(out_dir / "trades.csv", ("symbol", *TRADE_COLUMNS), rows)
    files["chart"] = out_dir / "chart.html"
    portfolio_figure(result).write_html(files["chart"], include_plotlyjs=True)
    for sym, r in result.results.items():
        write_run(r, out_dir / sym, png=png)
        files[sym] = out_dir / sym
    return files


def portfolio_figure(result: PortfolioResult) -> go.Figure:
    """The account's equity and drawdown, and each symbol's contribution (P&L)."""
    wall = pd.DatetimeIndex(pd.to_datetime(result.times, utc=True)).tz_convert(ET)
    x = wall.tz_localize(None)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.5, 0.2, 0.3],
        vertical_spacing=0.03,
        subplot_titles=("account equity", "drawdown %", "P&L by symbol"),
    )
    fig.add_trace(go.Scatter(x=x, y=result.equity, name="equity", line={"width": 2}), 1, 1)
    dd = drawdown_pct(result.equity)
    fig.add_trace(go.Scatter(x=x, y=dd, name="drawdown %", fill="tozeroy"), 2, 1)
    for sym, r in result.results.items():
        at = np.searchsorted(r.bars.ts, result.times, side="right") - 1
        pnl = np.zeros(len(result.times))
        seen = at >= 0
        pnl[seen] = r.equity[at[seen]] - result.initial_cash
        fig.add_trace(go.Scatter(x=x, y=pnl, name=f"{sym} P&L"), 3, 1)
    final = result.equity[-1]
    fig.update_layout(
        title=f"{', '.join(result.symbols)}: one account, equity {final:,.2f}",
        height=900,
        hovermode="x unified",
        xaxis3_title="US/Eastern",
    )
    return fig
