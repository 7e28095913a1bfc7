"""Backtest metrics and the run folder: metrics.json, CSVs of what happened, charts.

Takes a finished `BacktestResult` and decides nothing; imports no broker or strategy.
The figures and their definitions are `bot.report.metrics`' (the sweep's too): this module adds
the run's start, end, cash, symbol and timeframe, and writes and shows them.
Nothing in the metrics dict is rounded; the CSVs round floats to 6 decimals only to
drop binary noise (-1110.9999999999986 -> -1111.0).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from bot.engine.backtest import BacktestResult
from bot.models import ET, Trade, ns_to_et
from bot.report.metrics import (
    drawdown_pct as drawdown_pct,  # re-exported: bot.report.chart reads it here
)
from bot.report.metrics import performance

Metrics = dict[str, float | int | str | None]
# fmt: off
TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "qty", "side", "pnl",
                 "commission", "return_pct", "level", "entry_reason", "exit_reason")
# fmt: on


def metrics_from_equity(
    equity: pd.Series,
    trades: Sequence[Trade],
    position: np.ndarray,
    close: np.ndarray,
    periods_per_year: float,
    initial_cash: float,
) -> Metrics:
    """Performance of an equity curve (tz-aware DatetimeIndex): `bot.report.metrics.performance`
    with the first and last bar's times and the initial cash."""
    if len(equity) == 0:
        raise ValueError("no bars: an empty equity curve has no metrics")
    times = pd.DatetimeIndex(equity.index)
    ns = times.asi8 if times.unit == "ns" else times.as_unit("ns").asi8
    eq = equity.to_numpy(dtype="float64")
    figures = performance(eq, position, ns, close, trades, periods_per_year, initial_cash)
    head: Metrics = {
        "start": times[0].isoformat(),
        "end": times[-1].isoformat(),
        "bars": figures.pop("bars"),
        "initial_cash": float(initial_cash),
    }
    return head | figures


def compute_metrics(result: BacktestResult) -> Metrics:
    """`metrics_from_equity` for a backtest, plus what was traded."""
    res = result
    equity = res.equity_frame()["equity"]
    args = (res.trades, res.position, res.bars.close, res.periods_per_year, res.initial_cash)
    metrics = metrics_from_equity(equity, *args)
    return {"symbol": result.settings.symbol, "timeframe": result.bars.timeframe, **metrics}


def iso_times(ts_ns: np.ndarray) -> list[str]:
    """ISO 8601 US/Eastern times with offset, vectorised: a per-row isoformat() or a
    strftime with %z takes seconds on a million 1-minute bars; there are only two offsets."""
    utc = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts_ns, dtype="int64"), utc=True))
    wall = utc.tz_convert(ET).tz_localize(None).to_numpy(dtype="datetime64[s]")
    off = (wall - utc.tz_localize(None).to_numpy(dtype="datetime64[s]")).astype("int64") // 60
    kinds, which = np.unique(off, return_inverse=True)
    labels = np.array(
        [f"{'-' if o < 0 else '+'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in kinds]
    )
    stamps = np.char.add(np.datetime_as_string(wall, unit="s"), labels[which])
    return [str(x) for x in stamps.tolist()]


def _row(*values: object) -> list[object]:
    """Floats rounded to 6 decimals: drops binary noise, keeps every cent and tick."""
    return [round(v, 6) if isinstance(v, float) else v for v in values]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def trade_rows(trades: Sequence[Trade]) -> list[list[object]]:
    rows: list[list[object]] = []
    for t in trades:
        # Return on the capital put in at entry, after commissions; the same for shorts.
        ret = t.pnl / (t.entry_price * t.qty) * 100.0 if t.entry_price * t.qty else 0.0
        times = {"entry_time": t.entry_time.isoformat(), "exit_time": t.exit_time.isoformat()}
        fields = asdict(t) | times | {"return_pct": ret}
        rows.append(_row(*(fields[c] for c in TRADE_COLUMNS)))
    return rows


def write_run(result: BacktestResult, out_dir: Path, png: bool = False) -> dict[str, Path]:
    """Write the run folder; returns file kind -> path."""
    # Imported here: plotly is only needed for the chart, and bot.report.chart imports this module.
    from bot.report.chart import write_chart

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(compute_metrics(result), indent=2) + "\n", encoding="utf-8")
    files["metrics"] = metrics_path
    files["trades"] = write_csv(out_dir / "trades.csv", TRADE_COLUMNS, trade_rows(result.trades))
    equity = pd.DataFrame(
        {
            "time": iso_times(result.bars.ts),
            "equity": result.equity,
            "position": result.position,
            "close": result.bars.close,
            "drawdown_pct": drawdown_pct(result.equity),
        }
    ).round(6)
    files["equity"] = out_dir / "equity.csv"
    equity.to_csv(files["equity"], index=False)
    signals = result.record.signals
    # The strategy's details are its columns (one strategy per run: the first signal's).
    details = [d.key for d in signals[0].details()] if signals else ["close"]
    files["signals"] = write_csv(
        out_dir / "signals.csv",
        ("time", "kind", *details, "reason"),
        [
            _row(s.time.isoformat(), str(s.kind), *(d.value for d in s.details()), s.reason)
            for s in signals
        ],
    )
    files["rejections"] = write_csv(
        out_dir / "rejections.csv",
        ("time", "what", "reason"),
        [[ns_to_et(r.ts).isoformat(), r.what, r.reason] for r in result.record.rejections],
    )
    files["chart"] = out_dir / "chart.html"
    png_path = out_dir / "chart.png" if png else None
    write_chart(result, files["chart"], png_path)
    if png_path is not None:
        files["chart_png"] = png_path
    return files


_FORMATS = {
    "pct": "{:+.2f}%",
    "share": "{:.2f}%",  # a part of a whole: never signed
    "money": "{:,.2f}",
    "int": "{:,.0f}",
    "days": "{:,.1f}",
    "ratio": "{:.2f}",
}


def _fmt(value: float | int | str | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else _FORMATS[kind].format(value)


_ROWS: tuple[tuple[str, str, str], ...] = (
    ("period", "start", "str"),
    ("to", "end", "str"),
    ("bars", "bars", "int"),
    ("initial cash", "initial_cash", "money"),
    ("final equity", "final_equity", "money"),
    ("total return", "total_return_pct", "pct"),
    ("  buy & hold return", "buy_hold_return_pct", "pct"),
    ("CAGR", "cagr_pct", "pct"),
    ("  buy & hold CAGR", "buy_hold_cagr_pct", "pct"),
    ("volatility (annual)", "volatility_pct", "share"),
    ("Sharpe", "sharpe", "ratio"),
    ("Sortino", "sortino", "ratio"),
    ("max drawdown", "max_drawdown_pct", "pct"),
    ("longest drawdown (bars)", "max_drawdown_duration_bars", "int"),
    ("longest drawdown (days)", "max_drawdown_duration_days", "days"),
    ("trades", "trades", "int"),
    ("win rate", "win_rate_pct", "share"),
    ("profit factor", "profit_factor", "ratio"),
    ("average win", "avg_win", "money"),
    ("average loss", "avg_loss", "money"),
    ("exposure", "exposure_pct", "share"),
)


def metrics_table(metrics: Metrics) -> Table:
    """Two columns, metric and value; buy-and-hold rows sit under the strategy's."""
    title = "Backtest metrics"
    if metrics.get("symbol"):
        title += f": {metrics['symbol']} {metrics.get('timeframe', '')}".rstrip()
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key, kind in (row for row in _ROWS if row[1] in metrics):
        style = "dim" if label.startswith("  ") else ""
        table.add_row(label, _fmt(metrics[key], kind), style=style)
    return table
