"""The PNG attached to a level alert: exactly the bars the engine used.

`render_alert_chart` draws the bars as candles with the alert's level as a horizontal
line labelled with its price, the bar the alert is about (its `ts` equal to `mark_ts`)
marked, and a volume panel below sharing the x axis. The x axis is the bar's index, so
nights, weekends and gaps take no room; a few ticks name the bars' start times in
US/Eastern ("HH:MM" within one day, "MM-DD" or "MM-DD HH:MM" over several days).

Pure presentation: it draws on a `matplotlib.figure.Figure` with its own Agg canvas and
never imports pyplot, so it touches no global backend state, opens no window and can run
on the alert thread. The file is written atomically (a temporary file in the same folder,
then `os.replace`), so the deliverer never attaches half a PNG.

Imports bot.models (Bar, ns_to_et) and matplotlib.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from bot.models import Bar, ns_to_et

# Distinctive colours (RGB hex), drawn opaque by nothing else, so a test can find them
# (the marked bar's background band is MARK_COLOUR at 15% opacity: a paler shade).
LEVEL_COLOUR = "#ff00ff"  # magenta: the level line
MARK_COLOUR = "#ff8c00"  # dark orange: the marked bar's arrow and its volume bar
UP_COLOUR = "#26a69a"  # candle that closed at or above its open
DOWN_COLOUR = "#ef5350"  # candle that closed below its open
VOLUME_COLOUR = "#b0bec5"
FIGSIZE = (8.0, 4.5)  # inches
DPI = 100
MAX_TICKS = 6


def _price(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4f}"


def _ticks(bars: Sequence[Bar]) -> tuple[list[int], list[str]]:
    """A few evenly spaced bar indices and their ET start times as text."""
    n = len(bars)
    count = min(n, MAX_TICKS)
    step = (n - 1) / (count - 1) if count > 1 else 0.0
    idx = sorted({round(k * step) for k in range(count)})
    times = [ns_to_et(b.ts) for b in bars]
    days = {t.date() for t in times}
    if len(days) == 1:
        fmt = "%H:%M"
    elif len(days) == n:  # at most one bar a day: the time of day says nothing
        fmt = "%m-%d"
    else:
        fmt = "%m-%d %H:%M"
    return idx, [times[i].strftime(fmt) for i in idx]


def _boxes(
    bottoms: Sequence[float], tops: Sequence[float], width: float, colours: Sequence[str]
) -> PolyCollection:
    """One rectangle per bar index, centred on it: one artist, not one patch a bar."""
    half = width / 2
    verts = [
        [(i - half, b), (i + half, b), (i + half, t), (i - half, t)]
        for i, (b, t) in enumerate(zip(bottoms, tops, strict=True))
    ]
    return PolyCollection(verts, facecolors=colours, linewidths=0, antialiased=False)


def render_alert_chart(
    bars: Sequence[Bar], level: float, mark_ts: int | None, title: str, path: Path
) -> Path:
    """Draw `bars`, the `level` and the bar starting at `mark_ts` (none if no bar does) to
    a PNG at `path` (its folder made if missing) and return `path`. Raises ValueError when
    `bars` is empty."""
    if not bars:
        raise ValueError("cannot chart an alert with no bars")
    n = len(bars)
    xs = list(range(n))
    mark = next((i for i, b in enumerate(bars) if b.ts == mark_ts), None)

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    # Fixed margins: faster than tight or constrained layout, and the same every time.
    fig.subplots_adjust(left=0.08, right=0.9, top=0.92, bottom=0.1, hspace=0.05)
    price, vol = fig.subplots(2, 1, sharex=True, height_ratios=[3.0, 1.0])

    lo = min(min(b.low for b in bars), level)
    hi = max(max(b.high for b in bars), level)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.01, 0.01)
    colours = [UP_COLOUR if b.close >= b.open else DOWN_COLOUR for b in bars]
    price.vlines(xs, [b.low for b in bars], [b.high for b in bars], colors=colours, lw=0.8)
    bottoms = [min(b.open, b.close) for b in bars]
    tops = [max(b.close, b.open, bot + pad * 0.01) for b, bot in zip(bars, bottoms, strict=True)]
    price.add_collection(_boxes(bottoms, tops, 0.6, colours), autolim=False)
    price.axhline(level, color=LEVEL_COLOUR, linewidth=1.5, zorder=3)
    price.text(
        1.005, level, _price(level), transform=price.get_yaxis_transform(), va="center", fontsize=8
    )
    price.set_ylim(lo - pad, hi + pad)
    price.set_title(title, loc="left", fontsize=10)
    price.grid(alpha=0.3)
    price.set_axisbelow(True)  # grid lines behind the candles and the volume bars

    volumes = [b.volume for b in bars]
    shades = [MARK_COLOUR if i == mark else VOLUME_COLOUR for i in xs]
    vol.add_collection(_boxes([0.0] * n, volumes, 0.8, shades), autolim=False)
    vol.set_ylim(0.0, max(volumes) * 1.05 or 1.0)
    if mark is not None:
        for ax in (price, vol):
            ax.axvspan(mark - 0.5, mark + 0.5, color=MARK_COLOUR, alpha=0.15, lw=0, zorder=0)
        # An opaque arrow at the foot of the price panel (its volume bar has the colour too).
        foot = price.get_xaxis_transform()  # x in data, y in axes (0 bottom, 1 top)
        price.plot([mark], [0.04], marker="^", ms=9, color=MARK_COLOUR, transform=foot, zorder=4)
    vol.set_ylabel("volume", fontsize=8)
    vol.tick_params(labelsize=8)
    vol.grid(alpha=0.3)
    vol.set_axisbelow(True)
    price.tick_params(labelsize=8)
    price.set_xlim(-0.75, n - 0.25)
    idx, labels = _ticks(bars)
    vol.set_xticks(idx, labels)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=DPI)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


__all__ = ["LEVEL_COLOUR", "MARK_COLOUR", "render_alert_chart"]
