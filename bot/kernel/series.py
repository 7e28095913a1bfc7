"""The indicator series the kernel reads, compiled: each one equal to `bot.indicators`.

Computed once per series and parameter (a sweep caches them: every combination with the
same ATR period reads the same ATR), each function walks the bars in order with the
incremental class's own arithmetic, in the same order of operations, so the values are
bit for bit those the engine's objects give bar by bar (tests/test_kernel.py compares
them over real and synthetic bars):
- `atr`: `ATR.update` after each bar (what risk sees at that bar's decision);
- `volume_mean_before`: `RollingMean.push`, the mean of the `n` volumes before each bar;
- `session_peak`: `SessionPeak.update`, the peak as of each bar, never including it;
- `rsi`, `adx`: `RSI.update`, `ADX.update`.
"""

from __future__ import annotations

import math

import numpy as np

from bot.kernel.jit import jit

NAN = math.nan


@jit
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(close))
    count, total, value, pc = 0, 0.0, NAN, NAN
    for i in range(len(close)):
        h, lo = high[i], low[i]
        tr = (h if h > pc else pc) - (lo if lo < pc else pc) if pc == pc else h - lo
        pc = close[i]
        if count >= n:
            value = (value * (n - 1) + tr) / n
        else:
            count += 1
            if count < n:
                total += tr
            else:
                value = (total + tr) / n
        out[i] = value
    return out


@jit
def volume_mean_before(volume: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(volume))
    total = 0.0
    for i in range(len(volume)):
        out[i] = total / n if i >= n else NAN
        total += volume[i]
        if i >= n:
            total -= volume[i - n]
    return out


@jit
def session_peak(session: np.ndarray, high: np.ndarray, n: int) -> np.ndarray:
    """The highest high of the previous `n` sessions and the current session's earlier
    bars (NaN until `n` sessions are complete)."""
    size = len(high)
    out = np.empty(size)
    q_idx = np.empty(size + 1, np.int64)  # monotonic deque of completed sessions
    q_high = np.empty(size + 1)
    head, tail = 0, 0  # q is [head, tail)
    done = 0  # completed sessions
    prior = NAN
    cur_high = -math.inf
    cur_session = np.int64(0)
    started = False
    for i in range(size):
        s, h = session[i], high[i]
        if started and s == cur_session:
            out[i] = cur_high if cur_high > prior else prior
            if h > cur_high:
                cur_high = h
            continue
        if started:  # the previous session is complete
            while tail > head and q_high[tail - 1] < cur_high:
                tail -= 1
            q_idx[tail], q_high[tail] = done, cur_high
            tail += 1
            done += 1
            while tail > head and q_idx[head] <= done - 1 - n:
                head += 1
            if done >= n:
                prior = q_high[head]
        started, cur_session, cur_high = True, s, h
        out[i] = prior
    return out


@jit
def rsi(close: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(close))
    a = 1.0 / n
    prev, up_s, dn_s = NAN, 0.0, 0.0
    for i in range(len(close)):
        c = close[i]
        diff = c - prev
        up = diff if diff > 0 else 0.0
        dn = -diff if diff < 0 else 0.0
        if i == 0:
            up_s, dn_s = up, dn
        else:
            up_s = (1 - a) * up_s + a * up
            dn_s = (1 - a) * dn_s + a * dn
        prev = c
        if i + 1 < n:
            out[i] = NAN
        elif dn_s == 0:
            out[i] = 100.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + up_s / dn_s)
    return out


@jit
def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    size = len(close)
    out = np.empty(size)
    ph, pl, pc = NAN, NAN, NAN
    s_tr, s_up, s_dn = 0.0, 0.0, 0.0
    seed = 0.0  # the sum of the first n DX values, in order (as Python's sum of a list)
    value = NAN
    for i in range(size):
        h, lo, c = high[i], low[i], close[i]
        if i == 0:
            ph, pl, pc = h, lo, c
            out[i] = NAN
            continue
        tr = max(h, pc) - min(lo, pc)
        diff_up = h - ph
        diff_dn = pl - lo
        pos = diff_up if (diff_up > diff_dn and diff_up > 0) else 0.0
        neg = diff_dn if (diff_dn > diff_up and diff_dn > 0) else 0.0
        ph, pl, pc = h, lo, c
        if i <= n:
            s_tr += tr
            s_up += pos
            s_dn += neg
            if i < n:
                out[i] = NAN
                continue
        else:
            s_tr = s_tr - s_tr / n + tr
            s_up = s_up - s_up / n + pos
            s_dn = s_dn - s_dn / n + neg
        dip = 100.0 * s_up / s_tr if s_tr != 0 else 0.0
        din = 100.0 * s_dn / s_tr if s_tr != 0 else 0.0
        dx = 100.0 * abs((dip - din) / (dip + din)) if dip + din != 0 else 0.0
        if i < 2 * n - 1:
            seed += dx
            out[i] = NAN
        elif i == 2 * n - 1:
            seed += dx
            value = seed / n
            out[i] = value
        else:
            value = (value * (n - 1) + dx) / n
            out[i] = value
    return out
