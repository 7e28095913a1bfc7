"""A study's HTML report: the table, and the distributions behind its figures.

Per level, one histogram per horizon of the forward returns of each tier that has events,
over the same bins as the baseline's (every bar), each as a % of its own events, so a
tier's shape reads against the market's; then the excursions (MFE and MAE) as box plots.
A tier with fewer than `min_events` events is drawn, its legend saying "too few". One
file that opens offline: plotly.js is embedded once (a CDN link would leave a blank page
on an offline machine), the figures after the first reuse it.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from bot.study.events import LABELS
from bot.study.export import DEFINITIONS
from bot.study.outcomes import Outcomes
from bot.study.report import COLUMNS, study_rows
from bot.study.run import Study

STYLE = """body{font-family:sans-serif;margin:1.5em}
table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}p{max-width:60em}"""
BASELINE_COLOR = "#888888"


def write_html(study: Study, path: Path) -> Path:
    """The report page; returns its path."""
    figures = [_level_figure(study, level) for level in sorted({t.level for t in study.tiers})]
    parts = [fig.to_html(include_plotlyjs=k == 0, full_html=False) for k, fig in enumerate(figures)]
    title = f"{study.symbol}: study of its levels"
    e = html.escape
    intro = [
        f"{study.bars:,} bars of {study.source}, {study.rules}.",
        *(f"{k}: {v}." for k, v in DEFINITIONS.items()),
    ]
    if study.minute_days:
        intro.append(f"Crosses timed on minute bars on {study.minute_days} day(s).")
    head = "".join(f"<th{' class=l' if k < 2 else ''}>{e(c)}</th>" for k, c in enumerate(COLUMNS))
    body = "\n".join(
        "<tr>"
        + "".join(f"<td{' class=l' if k < 2 else ''}>{e(c)}</td>" for k, c in enumerate(r))
        + "</tr>"
        for r in study_rows(study)
    )
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head>\n<body><h1>{e(title)}</h1>"
        + "".join(f"<p>{e(line)}</p>" for line in intro)
        + f"\n<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _level_figure(study: Study, level: float) -> go.Figure:
    cfg = study.config
    horizons = cfg.horizons
    titles = [f"forward return after {h} bar(s), % (in the event's direction)" for h in horizons]
    titles.append(f"excursions over {max(horizons)} bars, %")
    fig = make_subplots(rows=len(horizons) + 1, cols=1, subplot_titles=titles)
    groups: list[tuple[str, Outcomes, str]] = [
        ("baseline: every bar", study.baseline_outcomes, BASELINE_COLOR)
    ]
    palette = qualitative.Plotly
    for k, t in enumerate(t for t in study.tiers if t.level == level):
        if t.events:  # one colour per tier, the same in every panel
            few = " (too few)" if t.summary.too_few else ""
            name = f"{LABELS[t.tier]}, {len(t.events)}{few}"
            groups.append((name, t.outcomes, palette[k % len(palette)]))
    for name, out, color in groups:
        for row, h in enumerate(horizons, start=1):
            values = out.returns[h]
            fig.add_trace(
                go.Histogram(
                    x=values[~np.isnan(values)],
                    name=name,
                    legendgroup=name,
                    showlegend=row == 1,
                    histnorm="percent",
                    bingroup=f"h{h}",  # one set of bins per horizon, the baseline's too
                    opacity=0.55,
                    marker_color=color,
                ),
                row=row,
                col=1,
            )
        for what, values in (("MFE", out.mfe), ("MAE", out.mae)):
            fig.add_trace(
                go.Box(
                    x=values[~np.isnan(values)],
                    name=f"{what} {name}",
                    legendgroup=name,
                    showlegend=False,
                    marker_color=color,
                    boxpoints=False if len(values) > 200 else "all",
                ),
                row=len(horizons) + 1,
                col=1,
            )
    fig.update_layout(
        title=f"{study.symbol} {level:g}: distributions by tier (% of each tier's events)",
        barmode="overlay",
        height=300 * (len(horizons) + 1),
        template="plotly_white",
    )
    return fig
