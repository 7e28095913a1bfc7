"""Equity curves for the report, from `run_backtest` itself, and a cross-check.

The chosen sets are re-run through `bot.engine.backtest.run_backtest` + `compute_metrics`
(the `bot backtest` path; a handful of runs): each walk-forward test window with the
set chosen on its train window (stitched into one out-of-sample curve: each window
starts from the equity the previous one ended with, so returns compound; a window
where no set met the constraints stays in cash), and the final set and the best sets
over the whole range. Every re-run is compared with the sweep's own figures for
that run; a difference is returned as a warning (it would be a bug in the lean path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bot.engine.backtest import BacktestResult, run_backtest
from bot.models import ET, Trade
from bot.report.runfolder import compute_metrics
from bot.sweep.combo import settings_for
from bot.sweep.metrics import METRIC_KEYS, Row, run_metrics
from bot.sweep.output import describe
from bot.sweep.prepare import Prepared
from bot.sweep.report import Curve
from bot.sweep.select import Choice, ComboSummary
from bot.sweep.windows import Span


def _wall(ts: np.ndarray) -> np.ndarray:
    idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts, dtype="int64"), utc=True))
    return idx.tz_convert(ET).tz_localize(None).to_numpy()


def _differs(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is not b
    assert isinstance(a, int | float) and isinstance(b, int | float)
    return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


class Rerun:
    """Runs sets through run_backtest and remembers any disagreement with the sweep."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.warnings: list[str] = []

    def run(self, index: int, span: Span, row: Row) -> BacktestResult:
        prep = self.prep
        values = prep.grid.combo(index)
        result = run_backtest(settings_for(prep.job, values), prep.series, *span)
        engine = compute_metrics(result)
        for key, mine in zip(METRIC_KEYS, row, strict=True):
            if key in engine and _differs(engine[key], mine):
                self.warnings.append(
                    f"set {index} on bars {span}: {key} is {mine} in the sweep but "
                    f"{engine[key]} from run_backtest"
                )
        return result


def walk_forward_curve(
    prep: Prepared, choices: Sequence[Choice], rerun: Rerun
) -> tuple[Curve, Row] | None:
    """The stitched out-of-sample curve and its metrics; None when test windows overlap
    or leave gaps (step_bars != test_bars), where no single curve exists."""
    plan = prep.plan
    if not plan.contiguous or not plan.tests:
        return None
    cash = prep.base.broker.initial_cash
    level = cash
    parts: list[np.ndarray] = []
    position: list[np.ndarray] = []
    trades: list[Trade] = []
    for c in choices:
        if c.window is None or c.test is None:
            continue
        n = c.test[1] - c.test[0]
        if c.index is None or c.oos_row is None:
            parts.append(np.full(n, level))
            position.append(np.zeros(n))
            continue
        r = rerun.run(c.index, c.test, c.oos_row)
        parts.append(level * r.equity / r.initial_cash)
        position.append(r.position)
        trades.extend(r.trades)
        level = float(parts[-1][-1])
    lo, hi = plan.tests[0][0], plan.tests[-1][1]
    s = prep.series
    equity = np.concatenate(parts)
    row = run_metrics(
        equity,
        np.concatenate(position),
        s.ts[lo:hi],
        s.close[lo:hi],
        trades,
        s.timeframe.periods_per_year,
        cash,
    )
    return Curve("walk-forward OOS (chosen per window)", _wall(s.ts[lo:hi]), equity), row


def full_curves(
    prep: Prepared, summaries: Sequence[ComboSummary], rerun: Rerun, top: int = 3
) -> list[Curve]:
    """The final set and the `top` sets by mean IS objective over the whole range."""
    ranked = sorted(
        (s for s in summaries if s.is_objective is not None),
        key=lambda s: (-(s.is_objective or 0.0), s.result.index),
    )
    rank = {s.result.index: n for n, s in enumerate(ranked[:top], start=1)}
    chosen = [s for s in summaries if s.final] + ranked[:top]
    lo, hi = prep.plan.full
    x = _wall(prep.series.ts[lo:hi])
    out: list[Curve] = []
    seen: set[int] = set()
    for s in chosen:
        if s.result.index in seen:
            continue
        seen.add(s.result.index)
        r = rerun.run(s.result.index, prep.plan.full, s.result.rows[0])
        label = "final choice" if s.final else f"IS rank {rank[s.result.index]}"
        text = describe(prep.grid.names, s.result.values)
        out.append(Curve(f"{label}: {text} (whole range)", x, r.equity))
    close = prep.series.close[lo:hi]
    cash = prep.base.broker.initial_cash
    out.append(Curve("buy & hold", x, cash * close / close[0], dash="dot"))
    return out
