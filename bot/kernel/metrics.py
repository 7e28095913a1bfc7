"""The figures of `bot.report.metrics.performance`, compiled, for the kernel's runs.

The same definitions, one value per `bot.sweep.metrics.METRIC_KEYS` entry (NaN where the
report has None), computed from the equity and position curves and the trades' pnl,
with numpy's arithmetic in numpy's order, so every figure is the report's to the last
bit: the sums over the returns (volatility, Sharpe, Sortino) are added as numpy adds
them (`_pairwise`, its pairwise summation, over blocks of `block` values as numpy 1.x
buffers its reductions: `numpy_block()` finds out which the installed numpy does), and
the trades' pnl in order, as Python's `sum` of a list.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from bot.kernel.jit import jit

NAN = math.nan
FIGURES = 19  # len(METRIC_KEYS)


@functools.cache
def numpy_block() -> int:
    """How the installed numpy sums a long float64 array: 0 when pairwise over the whole
    (numpy 2), else the size of the blocks it sums one after the other (8192 in numpy
    1.x, its buffer size). Found by asking it, once per process."""
    a = np.random.default_rng(1).normal(0.0, 1.0, 3 * 8192 + 5)
    want = float(np.sum(a))
    for block in (0, 8192):
        if _sum(a, block) == want:
            return block
    return 0  # another order: the figures may then differ from numpy's in the last digit


@jit
def _cagr(growth: float, days: float) -> float:
    if days <= 0:
        return NAN
    if growth <= 0:
        return -100.0
    return float((growth ** (365.25 / days) - 1.0) * 100.0)


@jit
def performance(
    equity: np.ndarray,
    position: np.ndarray,
    ts: np.ndarray,
    close: np.ndarray,
    pnl: np.ndarray,
    periods_per_year: float,
    initial_cash: float,
    block: int,
) -> np.ndarray:
    out = np.full(FIGURES, NAN)
    n = len(equity)
    days = (ts[n - 1] - ts[0]) / 1e9 / 86_400.0
    final = equity[n - 1]
    # Returns, from bars whose previous equity is above zero, and their spread: summed
    # as numpy sums (pairwise), so the figures are numpy's to the last bit.
    r = np.empty(max(n - 1, 0))
    m = 0
    for i in range(1, n):
        prev = equity[i - 1]
        if prev > 0:
            r[m] = equity[i] / prev - 1.0
            m += 1
    r = r[:m]
    ann = math.sqrt(periods_per_year)
    mean = _sum(r, block) / m if m else 0.0
    std = 0.0
    sq = np.empty(m)
    if m >= 2:
        for i in range(m):
            x = r[i] - mean
            sq[i] = x * x
        std = math.sqrt(_sum(sq, block) / (m - 1))
    downside = 0.0
    if m:
        for i in range(m):
            x = min(r[i], 0.0)
            sq[i] = x * x
        downside = math.sqrt(_sum(sq, block) / m)
    # Drawdowns: depth, and the longest stretches under water in bars and in days.
    peak = equity[0]
    depth = 0.0
    longest_bars, longest_days = 0, 0.0
    under_from = -1  # the peak bar of the stretch under water, if in one
    for i in range(n):
        e = equity[i]
        if e > peak:
            peak = e
        dd = (e / peak - 1.0) * 100.0
        if dd < depth or i == 0:
            depth = dd
        if e < peak:
            if under_from < 0:
                under_from = i - 1
        elif under_from >= 0:
            longest_bars, longest_days = _longer(longest_bars, longest_days, ts, under_from, i)
            under_from = -1
    if under_from >= 0:
        longest_bars, longest_days = _longer(longest_bars, longest_days, ts, under_from, n - 1)
    # Trades, in order (as Python's sum of a list).
    wins, losses, won, lost = 0.0, 0.0, 0, 0
    for p in pnl:
        if p > 0:
            wins += p
            won += 1
        elif p < 0:
            losses += p
            lost += 1
    held = 0
    for q in position:
        if q != 0:
            held += 1
    bh = close[n - 1] / close[0]
    total = (final / initial_cash - 1.0) * 100.0
    out[0] = n
    out[1] = final
    out[2] = total
    out[3] = _cagr(final / initial_cash, days)
    if m >= 2:
        out[4] = std * ann * 100.0
    if std > 0:
        out[5] = mean / std * ann
    if downside > 0:
        out[6] = mean / downside * ann
    out[7] = depth
    out[8] = longest_bars
    out[9] = longest_days
    out[10] = len(pnl)
    if len(pnl):
        out[11] = won / len(pnl) * 100.0
    if lost:
        out[12] = wins / abs(losses)
        out[14] = losses / lost
    if won:
        out[13] = wins / won
    out[15] = held / n * 100.0
    out[16] = (bh - 1.0) * 100.0
    out[17] = _cagr(bh, days)
    if depth < 0:
        out[18] = total / -depth
    return out


@jit
def _sum(a: np.ndarray, block: int) -> float:
    """`np.sum(a)` of a contiguous float64 array, bit for bit: numpy's pairwise sum, over
    the whole array (`block` 0) or block after block."""
    n = len(a)
    if block <= 0 or n <= block:
        return 0.0 + _pairwise(a, 0, n)
    total = 0.0
    for lo in range(0, n, block):
        total += _pairwise(a, lo, min(block, n - lo))
    return total


@jit
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise_sum (numpy/_core/src/umath/loops_utils.h.src): runs of up to 128
    values summed in eight running sums, a longer run split in two halves (the first a
    multiple of 8 long) summed apart. numpy recurses; this walks the same tree with a
    stack (numba's cache does not keep recursive functions safely)."""
    todo_lo = np.empty(256, np.int64)  # nodes to visit; depth <= 64 for any length
    todo_n = np.empty(256, np.int64)
    todo_join = np.empty(256, np.bool_)  # True: both halves are summed, add them
    sums = np.empty(128)
    top, done = 0, 0
    todo_lo[0], todo_n[0], todo_join[0] = lo, n, False
    top = 1
    while top:
        top -= 1
        lo, n, join = todo_lo[top], todo_n[top], todo_join[top]
        if join:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        elif n <= 128:
            sums[done] = _block(a, lo, n)
            done += 1
        else:
            half = n // 2
            half -= half % 8
            # Visited in this order: the first half, the second, then their join.
            todo_lo[top], todo_n[top], todo_join[top] = lo, n, True
            todo_lo[top + 1], todo_n[top + 1], todo_join[top + 1] = lo + half, n - half, False
            todo_lo[top + 2], todo_n[top + 2], todo_join[top + 2] = lo, half, False
            top += 3
    return float(sums[0])


@jit
def _block(a: np.ndarray, lo: int, n: int) -> float:
    """A run of at most 128 values, as numpy sums it."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = lo + 8
    end = lo + n - n % 8
    while i < end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += a[i]
        i += 1
    return float(res)


@jit
def _longer(
    bars: int, days: float, ts: np.ndarray, peak_at: int, back_at: int
) -> tuple[int, float]:
    """The longest stretch so far, in bars and in days, with [peak_at, back_at] added."""
    span = back_at - peak_at
    d = (ts[back_at] - ts[peak_at]) / 86_400e9
    return max(bars, span), max(days, d)
