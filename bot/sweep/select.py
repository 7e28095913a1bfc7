"""Choosing parameters per window, and judging them out of sample.

On each train window every combination's run is ranked by the objective, among the
runs that meet the constraints (at least `min_trades` closed trades and a max
drawdown no deeper than `max_drawdown_pct`, both measured on that window) and whose
objective is defined; the best wins, ties going to the lower combination index. Only
train-window runs are read here, so test data can never sway a choice. The winner's
run on the following test window is its out-of-sample (OOS) result.

Flags (in the report and in results.csv), with z the objective's neutral value (1
for profit_factor, 0 for the others):
- *collapsed*: good in sample (IS > z) but OOS < z, or its OOS edge over z is less
  than half its IS edge: OOS - z < 0.5 x (IS - z). For a Sharpe ratio: OOS < 0 while
  IS > 0, or OOS < 50% of IS;
- *lost*: no edge in sample (IS <= z) and a loss out of sample (OOS < z): e.g. a
  negative total return both in and out of sample. Nothing collapsed, but it is not
  "ok" either;
- *ok*: otherwise. Not judged (None) when either side is undefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.sweep.evaluate import ComboResult
from bot.sweep.metrics import COL, OBJECTIVES, Row, objective_value
from bot.sweep.windows import Plan, Span

NEUTRAL = {"profit_factor": 1.0}
Flag = Literal["ok", "collapsed", "lost"]


@dataclass(frozen=True)
class Rules:
    objective: str
    min_trades: int = 0
    max_drawdown_pct: float | None = None


@dataclass(frozen=True)
class Choice:
    """The set chosen on one train window and what it did there and after."""

    window: int | None  # None for the final window (no test)
    train: Span
    test: Span | None
    index: int | None  # combination index; None when no run met the constraints
    is_row: Row | None
    oos_row: Row | None
    is_objective: float | None
    oos_objective: float | None
    flag: Flag | None  # None for the final window, or when not judged


def allowed(row: Row, rules: Rules) -> bool:
    trades = row[COL["trades"]]
    dd = row[COL["max_drawdown_pct"]]
    assert trades is not None and dd is not None  # always computed
    if trades < rules.min_trades:
        return False
    return rules.max_drawdown_pct is None or dd >= -rules.max_drawdown_pct


def best(results: Sequence[ComboResult], run: int, rules: Rules) -> int | None:
    """Position in `results` of the best run `run` (ties: the first), or None."""
    pick: int | None = None
    top = 0.0
    for pos, res in enumerate(results):
        row = res.rows[run]
        value = objective_value(row, rules.objective)
        if value is None or not allowed(row, rules):
            continue
        if pick is None or value > top:
            pick, top = pos, value
    return pick


def judge(is_value: float | None, oos_value: float | None, objective: str) -> Flag | None:
    """The flag of an IS/OOS pair of objective values (module docstring)."""
    if is_value is None or oos_value is None:
        return None
    z = NEUTRAL.get(objective, 0.0)
    if is_value <= z:
        return "lost" if oos_value < z else "ok"
    if oos_value < z or oos_value - z < 0.5 * (is_value - z):
        return "collapsed"
    return "ok"


def choose(results: Sequence[ComboResult], plan: Plan, rules: Rules) -> list[Choice]:
    """One Choice per walk-forward window, then the final window's (last in the list).
    `results` must be sorted by combination index."""
    out: list[Choice] = []
    for k in range(plan.windows):
        out.append(_choice(results, plan, rules, k))
    out.append(_choice(results, plan, rules, None))
    return out


def _choice(results: Sequence[ComboResult], plan: Plan, rules: Rules, k: int | None) -> Choice:
    run = plan.final_run if k is None else plan.train_run(k)
    train = plan.runs[run]
    test = None if k is None else plan.tests[k]
    pos = best(results, run, rules)
    if pos is None:
        return Choice(k, train, test, None, None, None, None, None, None)
    res = results[pos]
    is_row = res.rows[run]
    oos_row = None if k is None else res.rows[plan.test_run(k)]
    is_obj = objective_value(is_row, rules.objective)
    oos_obj = None if oos_row is None else objective_value(oos_row, rules.objective)
    flag = None if k is None else judge(is_obj, oos_obj, rules.objective)
    return Choice(k, train, test, res.index, is_row, oos_row, is_obj, oos_obj, flag)


def mean_row(rows: Sequence[Row]) -> list[float | None]:
    """Per metric, the mean over the rows of the values that are defined."""
    out: list[float | None] = []
    for col in range(len(rows[0])):
        vals = [float(v) for v in (r[col] for r in rows) if v is not None]
        out.append(sum(vals) / len(vals) if vals else None)
    return out


@dataclass(frozen=True)
class ComboSummary:
    """One combination across the walk-forward: means over the train windows (IS) and
    over the test windows (OOS), its flag (mean IS vs mean OOS objective), and how
    often it was chosen."""

    result: ComboResult
    is_mean: list[float | None]
    oos_mean: list[float | None]
    is_objective: float | None
    oos_objective: float | None
    flag: Flag | None
    chosen: int  # walk-forward windows that chose it
    final: bool  # chosen on the final window


def summarize(
    results: Sequence[ComboResult], plan: Plan, rules: Rules, choices: Sequence[Choice]
) -> list[ComboSummary]:
    col = COL[OBJECTIVES[rules.objective]]
    picks = [c.index for c in choices if c.window is not None]
    final = choices[-1].index
    out: list[ComboSummary] = []
    for res in results:
        is_mean = mean_row([res.rows[plan.train_run(k)] for k in range(plan.windows)])
        oos_mean = mean_row([res.rows[plan.test_run(k)] for k in range(plan.windows)])
        is_obj, oos_obj = is_mean[col], oos_mean[col]
        out.append(
            ComboSummary(
                res,
                is_mean,
                oos_mean,
                is_obj,
                oos_obj,
                judge(is_obj, oos_obj, rules.objective),
                picks.count(res.index),
                res.index == final,
            )
        )
    return out
