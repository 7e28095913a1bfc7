"""The PNG of `bot levels suggest`: the window's prices up to the as-of bar, and the levels.

The closes are a line over the bars' high-low range (a pale band, so a touch shows where
the band meets a level); each suggested level is a horizontal line labelled with its rank
and price, coloured by kind, and the pivots it came from are marked. Nothing after the
as-of bar is drawn: the chart shows what the suggestion knew. The x axis is the bar index
(no weekend gaps), its ticks name the sessions.

Draws on a `matplotlib.figure.Figure` with its own Agg canvas, never pyplot (no global
backend state, no window), as bot/alerts/chart.py does. Imports matplotlib and numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bot.levels.suggest import Suggestion

KIND_COLOURS = {
    "swing high": "#d32f2f",
    "swing low": "#2e7d32",
    "both": "#1565c0",
    "round": "#757575",
}
LEGEND = {"both": "both (swing highs and lows)", "round": "round number"}
CLOSE_COLOUR = "#263238"
RANGE_COLOUR = "#b0bec5"
FIGSIZE = (11.0, 6.0)  # inches
DPI = 100
MAX_TICKS = 8
LABEL_GAP = 0.03  # axes fraction between two level labels (8 pt text on a 6 inch chart)


def _style(kind: str) -> str | tuple[int, tuple[int, int]]:
    return (0, (4, 3)) if kind == "round" else "solid"


def _spread(ys: list[float]) -> list[float]:
    """Label heights (axes fractions) at least LABEL_GAP apart, each as near its level as
    that allows: two levels 1% apart would otherwise print their labels over each other."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [ys[i] for i in order]
    for j in range(1, len(placed)):  # push up...
        placed[j] = max(placed[j], placed[j - 1] + LABEL_GAP)
    top = 1.0
    for j in reversed(range(len(placed))):  # ...then down from the top edge
        placed[j] = min(placed[j], top)
        top = placed[j] - LABEL_GAP
    out = [0.0] * len(ys)
    for j, i in enumerate(order):
        out[i] = placed[j]
    return out


def render_levels_chart(s: Suggestion, symbol: str, path: Path) -> Path:
    """Draw the suggestion's window and levels to a PNG at `path`; returns `path`."""
    lo, hi = s.start, s.t + 1
    xs = np.arange(hi - lo)
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    # Fixed margins (room on the right for the labels): the same picture every time.
    fig.subplots_adjust(left=0.07, right=0.88, top=0.92, bottom=0.09)
    ax = fig.add_subplot(1, 1, 1)
    ax.fill_between(xs, s.bars.low[lo:hi], s.bars.high[lo:hi], color=RANGE_COLOUR, lw=0)
    ax.plot(xs, s.bars.close[lo:hi], color=CLOSE_COLOUR, lw=1.0, label="close")
    for lv in s.levels:
        colour = KIND_COLOURS[lv.kind]
        ax.axhline(lv.price, color=colour, lw=1.2, ls=_style(lv.kind), alpha=0.9)
        for p in lv.pivots:
            marker = "v" if p.kind == "high" else "^"
            ax.plot([p.index - lo], [p.price], marker=marker, ms=6, color=colour, ls="none")
    y0, y1 = ax.get_ylim()  # fixed now, so the labels can be placed in axes fractions
    ax.set_ylim(y0, y1)
    wanted = [(lv.price - y0) / (y1 - y0) for lv in s.levels]
    for (rank, lv), y in zip(enumerate(s.levels, start=1), _spread(wanted), strict=True):
        ax.text(1.005, y, f"#{rank} {lv.price:,.2f}", transform=ax.transAxes, va="center",
                fontsize=8, color=KIND_COLOURS[lv.kind])  # fmt: skip
    kinds = sorted({lv.kind for lv in s.levels}, key=list(KIND_COLOURS).index)
    handles = [Line2D([], [], color=CLOSE_COLOUR, lw=1.0, label="close (band: high-low)")]
    handles += [
        Line2D([], [], color=KIND_COLOURS[k], ls=_style(k), label=LEGEND.get(k, k)) for k in kinds
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.8)
    n = hi - lo
    count = min(n, MAX_TICKS)
    step = (n - 1) / (count - 1) if count > 1 else 0.0
    ticks = sorted({round(i * step) for i in range(count)})
    ax.set_xticks(ticks, [s.day(lo + i).isoformat() for i in ticks], fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlim(-1, n)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(
        f"{symbol}: {len(s.levels)} suggested level(s) as of {s.day(s.t).isoformat()} "
        f"(bars {s.day(lo).isoformat()} .. {s.day(s.t).isoformat()}; none after)",
        loc="left",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


__all__ = ["KIND_COLOURS", "render_levels_chart"]
