"""Performance figures of one run: the single copy used by reports and sweeps.

Numpy only, no pandas per call: a sweep computes tens of thousands of these
(`bot.sweep.metrics` ranks them), a backtest report one (`bot.report.runfolder`). Imports no
engine, broker or strategy code.
Definitions (r = per-bar simple returns of equity, `equity[i] / equity[i-1] - 1`, so a
series of n bars gives n-1 returns, less any from a bar whose equity is zero or below;
ppy = periods per year, `Timeframe.periods_per_year`, 252 for daily bars):
- total_return_pct: (final_equity / initial_cash - 1) x 100.
- cagr_pct: (final_equity / initial_cash) ** (365.25 / days) - 1, x 100, where days is the
  calendar time between the first and last bar; None when that is zero; -100 when
  equity ended at or below zero.
- volatility_pct: stdev(r, ddof=1) x sqrt(ppy) x 100; None with fewer than two returns.
- sharpe: mean(r) / stdev(r, ddof=1) x sqrt(ppy), risk-free rate 0; None when stdev is 0.
- sortino: mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(ppy), the mean taken over all bars
  (not only losing ones); None when there is no losing bar.
- max_drawdown_pct: min over bars of (equity / running peak - 1) x 100, a negative
  number (0 when equity never fell). The running peak starts at the first bar's equity.
- max_drawdown_duration_bars / _days: over every stretch under water, from the bar of
  the peak to the bar where equity is back at or above it (the last bar when it never
  is), the longest one in bars and the longest in calendar days (fractional for
  intraday bars). Each is its own maximum; they normally describe the same stretch.
- trades: closed round trips. win_rate_pct: trades with pnl > 0 / trades x 100 (a
  zero-pnl trade counts as a trade but not a win). profit_factor: sum of winning pnl /
  |sum of losing pnl|, None when no trade lost. avg_win / avg_loss: mean pnl of the
  winners / losers (avg_loss is negative), None when there are none. pnl is after
  commissions.
- exposure_pct: bars whose closing position is not flat / bars x 100.
- buy_hold_return_pct / buy_hold_cagr_pct: the same return and CAGR for holding from the
  first bar's close to the last bar's close (close[-1] / close[0]).
Nothing is rounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.models import Trade

Figures = dict[str, float | int | None]
# The figures of `performance`, in this order.
FIGURES: tuple[str, ...] = (
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
)
_NS_PER_DAY = 86_400e9


def drawdown_pct(equity: np.ndarray) -> np.ndarray:
    """(equity / running peak - 1) x 100 at each bar: 0 at a peak, negative below it."""
    eq = np.asarray(equity, dtype="float64")
    return (eq / np.maximum.accumulate(eq) - 1.0) * 100.0


def cagr_pct(growth: float, days: float) -> float | None:
    if days <= 0:
        return None
    return -100.0 if growth <= 0 else float((growth ** (365.25 / days) - 1.0) * 100.0)


def return_stats(eq: np.ndarray, periods_per_year: float) -> tuple[float | None, ...]:
    """(volatility_pct, sharpe, sortino) of the per-bar returns of an equity curve."""
    prev = eq[:-1]
    # A return from zero or negative equity means nothing (and would divide by zero).
    r = eq[1:][prev > 0] / prev[prev > 0] - 1.0
    ann = math.sqrt(periods_per_year)
    std = float(np.std(r, ddof=1)) if len(r) >= 2 else 0.0
    mean = float(np.mean(r)) if len(r) else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else 0.0
    return (
        std * ann * 100.0 if len(r) >= 2 else None,
        mean / std * ann if std > 0 else None,
        mean / downside * ann if downside > 0 else None,
    )


def drawdown_durations(equity: np.ndarray, ns: np.ndarray) -> tuple[int, float]:
    """Longest stretch under water in bars and in calendar days (see module docstring);
    `ns` are the bar times as integer nanoseconds."""
    under = equity < np.maximum.accumulate(equity)
    if not under.any():
        return 0, 0.0
    # Runs of consecutive under-water bars: [starts[k], ends[k]] inclusive.
    edges = np.diff(np.concatenate(([0], under.astype("int8"), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    n = len(equity)
    peak_at = starts - 1  # bar 0 is never under water, so this is always >= 0
    back_at = np.minimum(ends + 1, n - 1)  # the recovery bar, or the last bar
    days = (ns[back_at] - ns[peak_at]) / _NS_PER_DAY
    return int((back_at - peak_at).max()), float(days.max())


def trade_stats(trades: Sequence[Trade]) -> Figures:
    """trades, win_rate_pct, profit_factor, avg_win, avg_loss."""
    pnl = [t.pnl for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    return {
        "trades": len(pnl),
        "win_rate_pct": float(len(wins) / len(pnl) * 100.0) if pnl else None,
        "profit_factor": float(sum(wins) / abs(sum(losses))) if losses else None,
        "avg_win": float(sum(wins) / len(wins)) if wins else None,
        "avg_loss": float(sum(losses) / len(losses)) if losses else None,
    }


def performance(
    equity: np.ndarray,
    position: np.ndarray,
    ts: np.ndarray,
    close: np.ndarray,
    trades: Sequence[Trade],
    periods_per_year: float,
    initial_cash: float,
) -> Figures:
    """The FIGURES of a run: equity and signed position at each bar's close, bar times
    as UTC nanoseconds, the closes; definitions at the top."""
    eq = np.asarray(equity, dtype="float64")
    n = len(eq)
    if n == 0:
        raise ValueError("no bars: an empty equity curve has no metrics")
    px = np.asarray(close, dtype="float64")
    # As pandas' Timedelta.total_seconds(): the nanoseconds divided by 1e9.
    days = (int(ts[-1]) - int(ts[0])) / 1e9 / 86_400.0
    final = float(eq[-1])
    vol, sharpe, sortino = return_stats(eq, periods_per_year)
    dd_bars, dd_days = drawdown_durations(eq, np.asarray(ts))
    bh = float(px[-1] / px[0])
    out: Figures = {
        "bars": n,
        "final_equity": final,
        "total_return_pct": (final / initial_cash - 1.0) * 100.0,
        "cagr_pct": cagr_pct(final / initial_cash, days),
        "volatility_pct": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_pct": float(drawdown_pct(eq).min()),
        "max_drawdown_duration_bars": dd_bars,
        "max_drawdown_duration_days": dd_days,
    }
    out.update(trade_stats(trades))
    out["exposure_pct"] = float(np.count_nonzero(np.asarray(position)) / n * 100.0)
    out["buy_hold_return_pct"] = (bh - 1.0) * 100.0
    out["buy_hold_cagr_pct"] = cagr_pct(bh, days)
    return out
