"""Backtest metrics and the run folder: metrics.json, CSVs of what happened, charts.

Takes a finished `BacktestResult` and decides nothing; imports no broker or strategy.
Definitions (r = per-bar simple returns of equity, `equity[i] / equity[i-1] - 1`, so a
series of n bars gives n-1 returns, less any from a bar whose equity is zero or below;
ppy = periods per year, 252 for daily bars):
- total_return_pct: (final_equity / initial_cash - 1) x 100.
- cagr_pct: (final_equity / initial_cash) ** (365.25 / days) - 1, x 100, where days is the
  calendar time between the first and last bar; None when that is zero; -100 when
  equity ended at or below zero.
- volatility_pct: stdev(r, ddof=1) x sqrt(ppy) x 100; None with fewer than two returns.
- sharpe: mean(r) / stdev(r, ddof=1) x sqrt(ppy), risk-free rate 0; None when stdev is 0.
- sortino: mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(ppy), the mean taken over all bars
  (not only losing ones); None when there is no losing bar.
- max_drawdown_pct: min over bars of (equity / running peak - 1) x 100, a negative
  number (0 when equity never fell). The running peak starts at the first bar's equity.
- max_drawdown_duration_bars / _days: over every stretch under water, from the bar of
  the peak to the bar where equity is back at or above it (the last bar when it never
  is), the longest one in bars and the longest in calendar days (fractional for
  intraday bars). Each is its own maximum; they normally describe the same stretch.
- trades: closed round trips. win_rate_pct: trades with pnl > 0 / trades x 100 (a
  zero-pnl trade counts as a trade but not a win). profit_factor: sum of winning pnl /
  |sum of losing pnl|, None when no trade lost. avg_win / avg_loss: mean pnl of the
  winners / losers (avg_loss is negative), None when there are none. pnl is after
  commissions.
- exposure_pct: bars whose closing position is not flat / bars x 100.
- buy_hold_return_pct / buy_hold_cagr_pct: the same return and CAGR for holding from the
  first bar's close to the last bar's close (close[-1] / close[0]).
Nothing in the metrics dict is rounded; the CSVs round floats to 6 decimals only to
drop binary noise (-1110.9999999999986 -> -1111.0).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from bot.backtest import BacktestResult
from bot.models import ET, Trade, ns_to_et

Metrics = dict[str, float | int | str | None]
# fmt: off
TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "qty", "side", "pnl",
                 "commission", "return_pct", "level", "entry_reason", "exit_reason")
# fmt: on


def drawdown_pct(equity: np.ndarray) -> np.ndarray:
    """(equity / running peak - 1) x 100 at each bar: 0 at a peak, negative below it."""
    eq = np.asarray(equity, dtype="float64")
    return (eq / np.maximum.accumulate(eq) - 1.0) * 100.0


def cagr_pct(growth: float, days: float) -> float | None:
    if days <= 0:
        return None
    return -100.0 if growth <= 0 else float((growth ** (365.25 / days) - 1.0) * 100.0)


def return_stats(eq: np.ndarray, periods_per_year: float) -> tuple[float | None, ...]:
    """(volatility_pct, sharpe, sortino) of the per-bar returns of an equity curve."""
    prev = eq[:-1]
    # A return from zero or negative equity means nothing (and would divide by zero).
    r = eq[1:][prev > 0] / prev[prev > 0] - 1.0
    ann = math.sqrt(periods_per_year)
    std = float(np.std(r, ddof=1)) if len(r) >= 2 else 0.0
    mean = float(np.mean(r)) if len(r) else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else 0.0
    return (
        std * ann * 100.0 if len(r) >= 2 else None,
        mean / std * ann if std > 0 else None,
        mean / downside * ann if downside > 0 else None,
    )


def drawdown_durations(equity: np.ndarray, ns: np.ndarray) -> tuple[int, float]:
    """Longest stretch under water in bars and in calendar days (see module docstring);
    `ns` are the bar times as integer nanoseconds."""
    under = equity < np.maximum.accumulate(equity)
    if not under.any():
        return 0, 0.0
    # Runs of consecutive under-water bars: [starts[k], ends[k]] inclusive.
    edges = np.diff(np.concatenate(([0], under.astype("int8"), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    n = len(equity)
    peak_at = starts - 1  # bar 0 is never under water, so this is always >= 0
    back_at = np.minimum(ends + 1, n - 1)  # the recovery bar, or the last bar
    days = (ns[back_at] - ns[peak_at]) / 86_400e9
    return int((back_at - peak_at).max()), float(days.max())


def _trade_stats(trades: Sequence[Trade]) -> Metrics:
    pnl = [t.pnl for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    return {
        "trades": len(pnl),
        "win_rate_pct": float(len(wins) / len(pnl) * 100.0) if pnl else None,
        "profit_factor": float(sum(wins) / abs(sum(losses))) if losses else None,
        "avg_win": float(sum(wins) / len(wins)) if wins else None,
        "avg_loss": float(sum(losses) / len(losses)) if losses else None,
    }


def metrics_from_equity(
    equity: pd.Series,
    trades: Sequence[Trade],
    position: np.ndarray,
    close: np.ndarray,
    periods_per_year: float,
    initial_cash: float,
) -> Metrics:
    """Performance of an equity curve (tz-aware DatetimeIndex); definitions at the top."""
    if len(equity) == 0:
        raise ValueError("no bars: an empty equity curve has no metrics")
    times = pd.DatetimeIndex(equity.index)
    eq = equity.to_numpy(dtype="float64")
    px = np.asarray(close, dtype="float64")
    days = (times[-1] - times[0]).total_seconds() / 86_400.0
    final = float(eq[-1])
    vol, sharpe, sortino = return_stats(eq, periods_per_year)
    ns = times.asi8 if times.unit == "ns" else times.as_unit("ns").asi8
    dd_bars, dd_days = drawdown_durations(eq, ns)
    out: Metrics = {
        "start": times[0].isoformat(),
        "end": times[-1].isoformat(),
        "bars": len(eq),
        "initial_cash": float(initial_cash),
        "final_equity": final,
        "total_return_pct": (final / initial_cash - 1.0) * 100.0,
        "cagr_pct": cagr_pct(final / initial_cash, days),
        "volatility_pct": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_pct": float(drawdown_pct(eq).min()),
        "max_drawdown_duration_bars": dd_bars,
        "max_drawdown_duration_days": dd_days,
    }
    out.update(_trade_stats(trades))
    out["exposure_pct"] = float(np.count_nonzero(np.asarray(position)) / len(eq) * 100.0)
    out["buy_hold_return_pct"] = float((px[-1] / px[0] - 1.0) * 100.0)
    out["buy_hold_cagr_pct"] = cagr_pct(float(px[-1] / px[0]), days)
    return out


def compute_metrics(result: BacktestResult) -> Metrics:
    """`metrics_from_equity` for a backtest, plus what was traded."""
    res = result
    equity = res.equity_frame()["equity"]
    args = (res.trades, res.position, res.bars.close, res.periods_per_year, res.initial_cash)
    metrics = metrics_from_equity(equity, *args)
    return {"symbol": result.settings.symbol, "timeframe": result.bars.timeframe, **metrics}


def _iso(ts_ns: np.ndarray) -> list[str]:
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


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _trade_rows(trades: Sequence[Trade]) -> list[list[object]]:
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
    # Imported here: plotly is only needed for the chart, and bot.chart imports this module.
    from bot.chart import write_chart

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(compute_metrics(result), indent=2) + "\n", encoding="utf-8")
    files["metrics"] = metrics_path
    files["trades"] = _write_csv(out_dir / "trades.csv", TRADE_COLUMNS, _trade_rows(result.trades))
    equity = pd.DataFrame(
        {
            "time": _iso(result.bars.ts),
            "equity": result.equity,
            "position": result.position,
            "close": result.bars.close,
            "drawdown_pct": drawdown_pct(result.equity),
        }
    ).round(6)
    files["equity"] = out_dir / "equity.csv"
    equity.to_csv(files["equity"], index=False)
    files["signals"] = _write_csv(
        out_dir / "signals.csv",
        ("time", "kind", "level", "level_value", "close", "reason"),
        [
            _row(s.time.isoformat(), str(s.kind), s.level, s.level_value, s.close, s.reason)
            for s in result.record.signals
        ],
    )
    files["rejections"] = _write_csv(
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
