"""What makes a bar implausible: the limits and the bad-bar rules shared by bar files
(bot/data/load.py) and broker feeds (`validate_columns`, for Alpaca's bars), so a bar is
refused for the same reasons wherever it comes from.

The rules come as row masks over whole columns (numpy), each with the field and the
reason to report, so a million-row file is checked without a Python loop per row. The
checks that need a file's own context (the bar grid of its timeframe, its line numbers,
"in the future" against today) stay with the reading, in bot/data/load.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.data.series import BarSeries
from bot.models import ET, BarRejection

# Plausibility bounds, for files and broker feeds alike. The dearest US share (BRK.A) is
# under $1e6 and sub-penny prices stop at $0.0001, so a price outside [1e-4, 1e7] is a
# data error (1e308 in a field, a slipped decimal point), not a market; sizing divides
# cash by the price, so a tiny one would overflow the share count. Whole-market US volume
# is about 1e10 shares a day: no single bar comes near 1e13.
MIN_PRICE = 1e-4
MAX_PRICE = 1e7
MAX_VOLUME = 1e13
# The NYSE opened in 1792, so an earlier bar is a typo in the year (0019 for 2019).
# Bars after LATEST_BAR are "in the future" like any bar past tomorrow, but must be
# caught before times become int64 nanoseconds, which end in April 2262.
EARLIEST_BAR = pd.Timestamp("1800-01-01")
LATEST_BAR = pd.Timestamp("2200-01-01")


def out_of_range(idx: pd.DatetimeIndex) -> list[tuple[np.ndarray, str]]:
    """Rows too early or too late to be a bar (and to fit in int64 nanoseconds)."""
    lo, hi = EARLIEST_BAR, LATEST_BAR
    if idx.tz is not None:
        lo, hi = lo.tz_localize("UTC"), hi.tz_localize("UTC")
    early = f"before {lo:%Y-%m-%d} (older than any exchange data; a typo in the year?)"
    return [(np.asarray(idx < lo), early), (np.asarray(idx > hi), "in the future")]


Problem = tuple[np.ndarray, str, str, np.ndarray]  # (row mask, field, reason, values)
_TOO_SMALL = f"implausible price (below {MIN_PRICE:g} USD per share)"
_TOO_BIG = f"implausible price (above {MAX_PRICE:,.0f} USD per share)"
_TOO_MANY = f"implausible volume (above {MAX_VOLUME:,.0f} shares in one bar)"


def price_problems(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> list[Problem]:
    """The bad-bar rules shared by files and broker feeds, as row masks."""
    out: list[Problem] = []
    for name, arr in (("open", o), ("high", h), ("low", lo), ("close", c)):
        finite = np.isfinite(arr)
        out.append((~finite, name, "missing or not a finite number", arr))
        out.append((finite & (arr <= 0), name, "price must be > 0", arr))
        out.append((finite & (arr > 0) & (arr < MIN_PRICE), name, _TOO_SMALL, arr))
        out.append((finite & (arr > MAX_PRICE), name, _TOO_BIG, arr))
    out.append((~np.isfinite(v), "volume", "missing or not a finite number", v))
    out.append((v < 0, "volume", "volume must be >= 0", v))
    out.append((np.isfinite(v) & (v > MAX_VOLUME), "volume", _TOO_MANY, v))
    out.append((h < lo, "high", "high is below low", h))
    out.append(((o < lo) | (o > h), "open", "open outside the low-high range", o))
    out.append(((c < lo) | (c > h), "close", "close outside the low-high range", c))
    return out


def validate_columns(series: BarSeries) -> tuple[BarSeries, list[BarRejection]]:
    """Drop bad bars from a series built from a feed (same rules as files), sorted by time,
    the last bar winning on a repeated timestamp."""
    bad = np.zeros(len(series), dtype=bool)
    rejected: list[BarRejection] = []
    problems = price_problems(series.open, series.high, series.low, series.close, series.volume)
    # The two rules bot/data/load.py applies with a file's context: minute bars on their
    # grid, and nothing more than a day ahead of now.
    ts = series.ts
    if not series.timeframe.daily:
        step = series.timeframe.interval_ns
        problems.append(
            (ts % step != 0, "timestamp", f"not on the {series.timeframe} bar grid", ts)
        )
    future = pd.Timestamp.now(tz="UTC").value + 86_400 * 1_000_000_000
    problems.append((ts > future, "timestamp", "in the future", ts))
    for mask, fname, why, arr in problems:
        for r in np.flatnonzero(mask & ~bad).tolist():
            when = pd.Timestamp(int(series.ts[r]), tz="UTC").tz_convert(ET).isoformat()
            value = when if fname == "timestamp" else f"{float(arr[r])!r} at {when}"
            rejected.append(BarRejection(None, fname, value, why, series.source))
        bad |= mask
    keep = np.flatnonzero(~bad)
    keep = keep[np.argsort(series.ts[keep], kind="stable")]
    if len(keep) > 1:
        last = np.ones(len(keep), dtype=bool)
        last[:-1] = series.ts[keep][1:] != series.ts[keep][:-1]
        keep = keep[last]
    return series.take(keep), rejected
