"""results.csv and the terminal summary of a finished sweep.

results.csv has one row per combination, in combination-index order:
- `index`, then the swept parameters by their dotted names;
- `chosen_windows` (walk-forward windows whose train run chose it), `final_choice`,
  `flag` (ok, collapsed or lost: the rules in bot.sweep.select; empty when not judged);
- `is_objective`, `oos_objective`, `final_objective`, `full_objective`;
- `full_start`, `full_end`, then `full_<metric>`: the whole date range, the same
  figures `bot backtest --config <that set> --from --to` writes to metrics.json;
- `is_<metric>` / `oos_<metric>`: the mean over the train / test windows (values
  that are undefined in a window, like a Sharpe ratio without trades, are left out);
- `final_<metric>`: the final window, where the config to trade is chosen.
Floats are written in full (repr), so they can be compared with metrics.json exactly.
Presentation only: decides nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.data.series import BarSeries
from bot.models import ns_to_et
from bot.sweep.metrics import COL, METRIC_KEYS, OBJECTIVES
from bot.sweep.params import Grid, Value
from bot.sweep.select import Choice, ComboSummary, Flag, Rules
from bot.sweep.windows import Plan, Span


def when(series: BarSeries, pos: int) -> str:
    """A bar's time for people: the date for daily bars, else date and minute."""
    t = ns_to_et(int(series.ts[pos]))
    return t.date().isoformat() if series.timeframe.daily else t.strftime("%Y-%m-%d %H:%M")


def span_text(series: BarSeries, span: Span) -> str:
    return f"{when(series, span[0])} to {when(series, span[1] - 1)}"


def _cell(v: object) -> object:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else v


def write_results_csv(
    path: Path,
    series: BarSeries,
    plan: Plan,
    grid: Grid,
    summaries: Sequence[ComboSummary],
    rules: Rules,
) -> Path:
    col = COL[OBJECTIVES[rules.objective]]
    head = ["index", *grid.names, "chosen_windows", "final_choice", "flag"]
    head += ["is_objective", "oos_objective", "final_objective", "full_objective"]
    head += ["full_start", "full_end"]
    for prefix in ("full", "is", "oos", "final"):
        head += [f"{prefix}_{k}" for k in METRIC_KEYS]
    start, end = when(series, plan.full[0]), when(series, plan.full[1] - 1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        for s in summaries:
            rows = s.result.rows
            full, final = rows[0], rows[plan.final_run]
            line: list[object] = [s.result.index, *s.result.values, s.chosen, s.final]
            line += [s.flag, s.is_objective, s.oos_objective, final[col], full[col]]
            line += [start, end, *full, *s.is_mean, *s.oos_mean, *final]
            out.writerow([_cell(v) for v in line])
    return path


def fmt(v: float | int | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def flag_text(flag: Flag | None) -> str:
    """A flag for the terminal: a bad one in red."""
    return "" if flag is None else flag if flag == "ok" else f"[red]{flag}[/]"


def describe(names: Sequence[str], values: Sequence[Value]) -> str:
    return ", ".join(f"{n.split('.', 1)[1]}={v}" for n, v in zip(names, values, strict=True))


def windows_table(series: BarSeries, grid: Grid, choices: Sequence[Choice], rules: Rules) -> Table:
    metric = OBJECTIVES[rules.objective]
    table = Table(title=f"Walk-forward: chosen on each train window by {rules.objective}")
    for col in ("#", "train", "test", "chosen set", "IS", "OOS", "OOS return %", "flag"):
        right = col in ("IS", "OOS", "OOS return %")
        # fold: a narrow terminal wraps the chosen values, never cuts them
        table.add_column(col, justify="right" if right else "left", overflow="fold")

    def span(sp: Span) -> str:  # two lines: room for the chosen set
        return span_text(series, sp).replace(" to ", " to\n")

    for c in choices:
        label = "final" if c.window is None else str(c.window)
        test = "" if c.test is None else span(c.test)
        if c.index is None:
            table.add_row(label, span(c.train), test, "[yellow]none met the constraints[/]")
            continue
        ret = None if c.oos_row is None else c.oos_row[COL["total_return_pct"]]
        flag = flag_text(c.flag)
        table.add_row(
            label,
            span(c.train),
            test,
            describe(grid.names, grid.combo(c.index)),
            fmt(c.is_objective),
            "" if c.window is None else fmt(c.oos_objective),
            "" if c.window is None else fmt(ret),
            flag,
        )
    table.caption = f"IS/OOS: {metric} of the chosen set on its train / test window"
    return table


def top_table(grid: Grid, summaries: Sequence[ComboSummary], rules: Rules, n: int = 10) -> Table:
    ranked = sorted(
        (s for s in summaries if s.is_objective is not None),
        key=lambda s: (-(s.is_objective or 0.0), s.result.index),
    )[:n]
    table = Table(title=f"Top {len(ranked)} sets by mean in-sample {rules.objective}")
    for name in ("index", "set", "IS", "OOS", "full range", "trades (full)", "flag"):
        table.add_column(
            name, justify="left" if name in ("set", "flag") else "right", overflow="fold"
        )
    col = COL[OBJECTIVES[rules.objective]]
    for s in ranked:
        full = s.result.rows[0]
        flag = flag_text(s.flag)
        table.add_row(
            str(s.result.index),
            describe(grid.names, s.result.values),
            fmt(s.is_objective),
            fmt(s.oos_objective),
            fmt(full[col]),
            str(full[COL["trades"]]),
            flag,
        )
    return table


def print_summary(
    console: Console,
    series: BarSeries,
    grid: Grid,
    choices: Sequence[Choice],
    summaries: Sequence[ComboSummary],
    rules: Rules,
) -> None:
    console.print(windows_table(series, grid, choices, rules))
    console.print(top_table(grid, summaries, rules))
