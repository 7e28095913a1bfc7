"""Metrics of one sweep run with numpy only, and the objectives that rank runs.

`run_metrics` computes the numeric figures of `bot.report.metrics_from_equity` with
the same formulas in the same order (see that module's docstring for the
definitions), without building a pandas Series per run: a sweep computes tens of
thousands of them. tests/test_sweep_engine.py checks both agree over many runs.
One figure is added: return_over_max_drawdown = total_return_pct / |max_drawdown_pct|
(None when equity never fell). Imports no engine code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.models import Trade
from bot.report import cagr_pct, drawdown_durations, drawdown_pct, return_stats

Row = list[float | int | None]  # one value per METRIC_KEYS entry
METRIC_KEYS: tuple[str, ...] = (
    "bars",
    "final_equity",
    "total_return_pct",
    "cagr_pct",
    "volatility_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "max_drawdown_duration_bars",
    "max_drawdown_duration_days",
    "trades",
    "win_rate_pct",
    "profit_factor",
    "avg_win",
    "avg_loss",
    "exposure_pct",
    "buy_hold_return_pct",
    "buy_hold_cagr_pct",
    "return_over_max_drawdown",
)
COL = {k: i for i, k in enumerate(METRIC_KEYS)}

# objective name -> metric key; higher is better for all of them.
OBJECTIVES: dict[str, str] = {
    "sharpe": "sharpe",
    "total_return": "total_return_pct",
    "profit_factor": "profit_factor",
    "return_over_max_drawdown": "return_over_max_drawdown",
}


def return_over_drawdown(total_return_pct: float, max_drawdown_pct: float) -> float | None:
    return total_return_pct / -max_drawdown_pct if max_drawdown_pct < 0 else None


def run_metrics(
    equity: np.ndarray,
    position: np.ndarray,
    ts: np.ndarray,
    close: np.ndarray,
    trades: Sequence[Trade],
    periods_per_year: float,
    initial_cash: float,
) -> Row:
    """The METRIC_KEYS figures of one run (equity and position at each traded close)."""
    eq = equity
    n = len(eq)
    # pandas Timedelta.total_seconds() divides the nanoseconds by 1e9: same rounding here.
    days = (int(ts[-1]) - int(ts[0])) / 1e9 / 86_400.0
    final = float(eq[-1])
    vol, sharpe, sortino = return_stats(eq, periods_per_year)
    dd_bars, dd_days = drawdown_durations(eq, ts)
    pnl = [t.pnl for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    total_return = (final / initial_cash - 1.0) * 100.0
    max_dd = float(drawdown_pct(eq).min())
    bh = float(close[-1] / close[0])
    return [
        n,
        final,
        total_return,
        cagr_pct(final / initial_cash, days),
        vol,
        sharpe,
        sortino,
        max_dd,
        dd_bars,
        dd_days,
        len(pnl),
        float(len(wins) / len(pnl) * 100.0) if pnl else None,
        float(sum(wins) / abs(sum(losses))) if losses else None,
        float(sum(wins) / len(wins)) if wins else None,
        float(sum(losses) / len(losses)) if losses else None,
        float(np.count_nonzero(position) / n * 100.0),
        (bh - 1.0) * 100.0,
        cagr_pct(bh, days),
        return_over_drawdown(total_return, max_dd),
    ]


def objective_value(row: Row, objective: str) -> float | None:
    """The objective of a run; None when it is undefined (no returns' spread, no losing
    trade for the profit factor, no drawdown): such a run cannot be ranked."""
    v = row[COL[OBJECTIVES[objective]]]
    return None if v is None else float(v)
