"""The metrics of one sweep run, and the objectives that rank runs.

`run_metrics` is `bot.report.metrics.performance`, the figures a backtest report shows
(definitions there), as one row per run, plus one figure of its own:
return_over_max_drawdown = total_return_pct / |max_drawdown_pct| (None when equity
never fell). Imports no engine code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.models import Trade
from bot.report.metrics import FIGURES, performance

Row = list[float | int | None]  # one value per METRIC_KEYS entry
METRIC_KEYS: tuple[str, ...] = (*FIGURES, "return_over_max_drawdown")
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
    fig = performance(equity, position, ts, close, trades, periods_per_year, initial_cash)
    total, max_dd = fig["total_return_pct"], fig["max_drawdown_pct"]
    assert total is not None and max_dd is not None  # always defined for a non-empty run
    return [fig[k] for k in FIGURES] + [return_over_drawdown(total, max_dd)]


def objective_value(row: Row, objective: str) -> float | None:
    """The objective of a run; None when it is undefined (no returns' spread, no losing
    trade for the profit factor, no drawdown): such a run cannot be ranked."""
    v = row[COL[OBJECTIVES[objective]]]
    return None if v is None else float(v)
