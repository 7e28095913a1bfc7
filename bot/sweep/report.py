"""report.html: the sweep at a glance, one self-contained file (plotly.js embedded).

- a summary of the sweep, the flag rules and the verdict on the final choice;
- the walk-forward table: per window the chosen set, its in-sample (IS) and
  out-of-sample (OOS) objective side by side, and its flag (ok, collapsed, lost);
- heatmaps over two parameters: in each cell the set with the best mean IS objective
  among those with that pair of values (the other parameters free), and the mean OOS
  objective of that same set; one parameter gives a line chart instead;
- equity curves: the stitched walk-forward OOS curve and the best sets over the
  whole range, with buy and hold;
- the top sets by mean IS objective.
Presentation only: reads finished results, decides nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bot.sweep.metrics import COL, Row
from bot.sweep.output import describe, fmt, span_text
from bot.sweep.params import Grid
from bot.sweep.prepare import Prepared
from bot.sweep.select import NEUTRAL, Choice, ComboSummary, Flag, Rules

STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1400px}
table{border-collapse:collapse;margin:1em 0;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td.l,th.l{text-align:left}.bad{color:#b00;font-weight:bold}"""


@dataclass(frozen=True)
class Curve:
    name: str
    x: np.ndarray  # naive US/Eastern datetimes
    y: np.ndarray
    dash: str = "solid"


def _row(cells: Sequence[str], head: bool = False, left: int = 4) -> str:
    """A table row; the first `left` cells (names, dates, sets) are left-aligned."""
    tag = "th" if head else "td"
    cls = ' class="l"'
    out = [f"<{tag}{cls if i < left else ''}>{c}</{tag}>" for i, c in enumerate(cells)]
    return "<tr>" + "".join(out) + "</tr>"


def windows_html(prep: Prepared, choices: Sequence[Choice], rules: Rules) -> str:
    head = ["window", "train", "test", "chosen set", f"IS {rules.objective}"]
    head += [f"OOS {rules.objective}", "IS return %", "OOS return %", "OOS trades", "flag"]
    rows = [_row([html.escape(h) for h in head], head=True)]
    for c in choices:
        name = "final" if c.window is None else str(c.window)
        test = "" if c.test is None else span_text(prep.series, c.test)
        train = span_text(prep.series, c.train)
        if c.index is None:
            rows.append(_row([name, train, test, "no set met the constraints"]))
            continue
        oos = c.oos_row
        flag = _flag(c.flag)
        cells = [
            name,
            train,
            test,
            html.escape(describe(prep.grid.names, prep.grid.combo(c.index))),
        ]
        cells += [fmt(c.is_objective), "" if oos is None else fmt(c.oos_objective)]
        cells += [fmt(_ret(c.is_row)), "" if oos is None else fmt(_ret(oos))]
        cells += ["" if oos is None else str(oos[COL["trades"]]), flag]
        rows.append(_row(cells))
    return "<table>" + "".join(rows) + "</table>"


def _flag(flag: Flag | None) -> str:
    return "" if flag is None else flag if flag == "ok" else f'<span class="bad">{flag}</span>'


def _ret(row: Row | None) -> float | int | None:
    return None if row is None else row[COL["total_return_pct"]]


def top_html(grid: Grid, summaries: Sequence[ComboSummary], rules: Rules, n: int = 20) -> str:
    ranked = sorted(
        (s for s in summaries if s.is_objective is not None),
        key=lambda s: (-(s.is_objective or 0.0), s.result.index),
    )[:n]
    head = ["index", "set", f"mean IS {rules.objective}", f"mean OOS {rules.objective}"]
    head += ["chosen in windows", "flag"]
    rows = [_row([html.escape(h) for h in head], head=True, left=2)]
    for s in ranked:
        flag = _flag(s.flag)
        cells = [str(s.result.index), html.escape(describe(grid.names, s.result.values))]
        cells += [fmt(s.is_objective), fmt(s.oos_objective), str(s.chosen), flag]
        rows.append(_row(cells, left=2))
    return "<table>" + "".join(rows) + "</table>"


def heatmap(
    grid: Grid, summaries: Sequence[ComboSummary], x: str, y: str, rules: Rules
) -> go.Figure:
    xi, yi = grid.names.index(x), grid.names.index(y)
    xs, ys = grid.values[xi], grid.values[yi]
    best: dict[tuple[int, int], ComboSummary] = {}
    for s in summaries:
        if s.is_objective is None:
            continue
        cell = (ys.index(s.result.values[yi]), xs.index(s.result.values[xi]))
        held = best.get(cell)
        if held is None or (s.is_objective or 0.0) > (held.is_objective or 0.0):
            best[cell] = s
    z_is = [[_z(best.get((r, c)), True) for c in range(len(xs))] for r in range(len(ys))]
    z_oos = [[_z(best.get((r, c)), False) for c in range(len(xs))] for r in range(len(ys))]
    text = [[_label(grid, best.get((r, c))) for c in range(len(xs))] for r in range(len(ys))]
    mid = NEUTRAL.get(rules.objective, 0.0)
    fig = make_subplots(
        1, 2, subplot_titles=(f"best mean IS {rules.objective}", "OOS of that same set")
    )
    for col, z in ((1, z_is), (2, z_oos)):
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=[str(v) for v in xs],
                y=[str(v) for v in ys],
                text=text,  # the set of each cell, for the hover; the cell shows its value
                texttemplate="%{z:.2f}",
                hovertemplate="%{x} / %{y}: %{z:.3f}<br>%{text}<extra></extra>",
                colorscale="RdYlGn",
                zmid=mid,
                showscale=col == 2,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=x, type="category", row=1, col=col)
        fig.update_yaxes(title_text=y, type="category", row=1, col=col)
    fig.update_layout(height=520, title=f"{rules.objective} over {x} x {y}")
    return fig


def _z(s: ComboSummary | None, is_side: bool) -> float | None:
    if s is None:
        return None
    return s.is_objective if is_side else s.oos_objective


def _label(grid: Grid, s: ComboSummary | None) -> str:
    return "" if s is None else html.escape(describe(grid.names, s.result.values))


def line_chart(grid: Grid, summaries: Sequence[ComboSummary], rules: Rules) -> go.Figure:
    """One swept parameter: mean IS and OOS objective against its value."""
    xs = [str(s.result.values[0]) for s in summaries]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[s.is_objective for s in summaries], name="mean IS"))
    fig.add_trace(go.Scatter(x=xs, y=[s.oos_objective for s in summaries], name="mean OOS"))
    fig.update_layout(title=f"{rules.objective} against {grid.names[0]}", height=450)
    fig.update_xaxes(title_text=grid.names[0], type="category")
    return fig


def equity_chart(curves: Sequence[Curve]) -> go.Figure:
    """The curves over time. Their names are long (a set's every value), so the legend
    goes below the plot, one entry per row, instead of beside it, where it would take
    two thirds of the width."""
    fig = go.Figure()
    for c in curves:
        fig.add_trace(go.Scatter(x=c.x, y=c.y, name=c.name, mode="lines", line={"dash": c.dash}))
    fig.update_layout(
        title="Equity of the best sets",
        height=520 + 22 * len(curves),
        hovermode="x unified",
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.12, "yanchor": "top"},
    )
    fig.update_xaxes(title_text="US/Eastern", rangebreaks=[{"bounds": ["sat", "mon"]}])
    fig.update_yaxes(title_text="equity")
    return fig


def write_report(
    path: Path,
    prep: Prepared,
    summary_lines: Sequence[str],
    choices: Sequence[Choice],
    summaries: Sequence[ComboSummary],
    rules: Rules,
    axes: tuple[str, str] | None,
    curves: Sequence[Curve],
) -> Path:
    grid = prep.grid
    figs = [heatmap(grid, summaries, *axes, rules) if axes else line_chart(grid, summaries, rules)]
    figs.append(equity_chart(curves))
    # plotly.js goes into the first figure only: one 4 MB copy, and the page works offline.
    divs = [f.to_html(full_html=False, include_plotlyjs=i == 0) for i, f in enumerate(figs)]
    body = [
        f"<h1>Sweep: {html.escape(str(prep.spec.path))}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary_lines) + "</ul>",
        "<h2>Walk-forward</h2>",
        windows_html(prep, choices, rules),
        divs[0],
        divs[1],
        f"<h2>Top sets by mean in-sample {html.escape(rules.objective)}</h2>",
        top_html(grid, summaries, rules),
    ]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>sweep report</title>"
        f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path
