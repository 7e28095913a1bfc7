"""Incremental indicators: O(1) work per bar over a bounded window.

Each class is fed one closed bar at a time and returns the value as of that bar, so
the same objects serve a backtest and a live feed. They reproduce the `ta` library's
formulas exactly (RSI: Wilder EMA with `adjust=False`; ADX and ATR: ta's own
recursions, including how they seed), and tests compare them with `ta` and pandas
rolling windows over whole series. Nothing here knows about strategies or brokers.
"""

from __future__ import annotations

import math
from collections import deque

NAN = math.nan


class RollingMean:
    """Mean of the last `n` values pushed (excluding anything pushed later)."""

    __slots__ = ("_buf", "_n", "_sum")

    def __init__(self, n: int) -> None:
        self._n = n
        self._buf: deque[float] = deque()
        self._sum = 0.0

    @property
    def ready(self) -> bool:
        return len(self._buf) == self._n

    @property
    def value(self) -> float:
        return self._sum / self._n if len(self._buf) == self._n else NAN

    def push(self, x: float) -> float:
        """Add `x`; returns the mean *before* it was added (NaN until `n` values)."""
        buf = self._buf
        n = self._n
        before = self._sum / n if len(buf) == n else NAN
        buf.append(x)
        self._sum += x
        if len(buf) > n:
            self._sum -= buf.popleft()
        return before


class SessionPeak:
    """Highest high of the previous `n` complete sessions plus the current session's
    earlier bars, excluding the bar being evaluated (no look-ahead).

    On daily bars every bar is its own session, so this is the max high of the prior
    `n` bars. Call `peak()` *before* `push(bar)` to get the value as of that bar.
    """

    __slots__ = (
        "_cur_high",
        "_cur_session",
        "_cur_ts",
        "_done",
        "_maxq",
        "_n",
        "_prior",
        "_sessions",
    )

    def __init__(self, n: int) -> None:
        self._n = n
        self._sessions = 0  # completed sessions seen
        # Monotonic deque of (session_index, high, ts) of completed sessions, highs decreasing.
        self._maxq: deque[tuple[int, float, int]] = deque()
        self._cur_session: int | None = None
        self._cur_high = -math.inf
        self._cur_ts = 0
        self._done = 0
        # (peak, ts) of the completed sessions alone, as `peak` gives it while no bar of a
        # session is in: changes only when a session closes (`update` returns it as is).
        self._prior: tuple[float, int] = (NAN, 0)

    def ready(self, session: int) -> bool:
        completed = self._sessions + (
            1 if self._cur_session is not None and session != self._cur_session else 0
        )
        return completed >= self._n

    def peak(self, session: int) -> tuple[float, int]:
        """(peak, ts of the bar that made it) as of a bar in `session`; NaN if not ready."""
        if self._cur_session is not None and session != self._cur_session:
            self._close_session()
        if self._sessions < self._n:
            return NAN, 0
        best, best_ts = -math.inf, 0
        q = self._maxq
        if q:
            best, best_ts = q[0][1], q[0][2]
        if self._cur_session is not None and self._cur_high > best:
            best, best_ts = self._cur_high, self._cur_ts
        return best, best_ts

    def update(self, session: int, high: float, ts: int) -> tuple[float, int]:
        """`peak(session)` then `push(...)` in one call: the peak as of this bar."""
        cur_high = self._cur_high
        if session == self._cur_session:  # the common case: a later bar of the same session
            prior = self._prior
            # NaN (not ready) compares False: the not-ready answer stays (NaN, 0).
            best = (cur_high, self._cur_ts) if cur_high > prior[0] else prior
            if high > cur_high:
                self._cur_high, self._cur_ts = high, ts
            return best
        if self._cur_session is not None:
            self._close_session()
        self._cur_session, self._cur_high, self._cur_ts = session, high, ts
        return self._prior

    def push(self, session: int, high: float, ts: int) -> None:
        if self._cur_session is not None and session != self._cur_session:
            self._close_session()
        if self._cur_session is None:
            self._cur_session, self._cur_high, self._cur_ts = session, high, ts
        elif high > self._cur_high:
            self._cur_high, self._cur_ts = high, ts

    def _close_session(self) -> None:
        idx = self._sessions
        high, ts = self._cur_high, self._cur_ts
        q = self._maxq
        # Keep the earliest bar on ties (>=) so the peak's date is where it was first made.
        while q and q[-1][1] < high:
            q.pop()
        q.append((idx, high, ts))
        self._sessions += 1
        while q and q[0][0] <= self._sessions - 1 - self._n:
            q.popleft()
        self._cur_session, self._cur_high, self._cur_ts = None, -math.inf, 0
        if self._sessions >= self._n:
            self._prior = (q[0][1], q[0][2]) if q else (-math.inf, 0)


class RSI:
    """ta.momentum.RSIIndicator, one bar at a time (valid from the `n`-th bar)."""

    __slots__ = ("_a", "_count", "_dn", "_n", "_prev", "_up")

    def __init__(self, n: int = 14) -> None:
        self._n = n
        self._a = 1.0 / n
        self._prev = NAN
        self._up = 0.0
        self._dn = 0.0
        self._count = 0

    def update(self, close: float) -> float:
        diff = close - self._prev  # NaN on the first bar -> 0 gain, 0 loss (as ta)
        up = diff if diff > 0 else 0.0
        dn = -diff if diff < 0 else 0.0
        if self._count == 0:
            self._up, self._dn = up, dn
        else:
            a = self._a
            self._up = (1 - a) * self._up + a * up
            self._dn = (1 - a) * self._dn + a * dn
        self._count += 1
        self._prev = close
        if self._count < self._n:
            return NAN
        if self._dn == 0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + self._up / self._dn)


class ATR:
    """ta.volatility.AverageTrueRange, one bar at a time (valid from the `n`-th bar)."""

    __slots__ = ("_atr", "_count", "_n", "_prev_close", "_sum")

    def __init__(self, n: int = 14) -> None:
        self._n = n
        self._count = 0
        self._sum = 0.0
        self._atr = NAN
        self._prev_close = NAN

    @property
    def value(self) -> float:
        return self._atr

    def state(self) -> tuple[float | int, ...]:
        """Everything the next update depends on (sweeps restore it to skip a warm-up)."""
        return (self._atr, self._count, self._n, self._prev_close, self._sum)

    def restore(self, state: tuple[float | int, ...]) -> None:
        """Set this object's state in place (others hold its bound `update`)."""
        self._atr, self._count, self._n, self._prev_close, self._sum = state  # type: ignore[assignment]

    def update(self, high: float, low: float, close: float) -> float:
        pc = self._prev_close
        # True range: the bar's range stretched to the previous close (none on bar 1).
        tr = (high if high > pc else pc) - (low if low < pc else pc) if pc == pc else high - low
        self._prev_close = close
        n = self._n
        if self._count >= n:
            self._atr = atr = (self._atr * (n - 1) + tr) / n
            return atr
        self._count += 1
        if self._count < n:
            self._sum += tr
        else:
            self._atr = (self._sum + tr) / n
        return self._atr


class ADX:
    """ta.trend.ADXIndicator.adx(), one bar at a time (valid from bar index 2n-1).

    ta seeds the smoothed true range and directional movements with the sum of bars
    1..n, then applies Wilder's recursion; ADX is the mean of the first n DX values,
    then recursive. The same steps are followed here so the numbers agree.
    """

    __slots__ = (
        "_adx",
        "_dx_seed",
        "_i",
        "_n",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_s_dn",
        "_s_tr",
        "_s_up",
    )

    def __init__(self, n: int = 14) -> None:
        self._n = n
        self._i = -1
        self._prev_high = self._prev_low = self._prev_close = NAN
        self._s_tr = self._s_up = self._s_dn = 0.0
        self._dx_seed: list[float] = []
        self._adx = NAN

    def update(self, high: float, low: float, close: float) -> float:
        self._i += 1
        i, n = self._i, self._n
        if i == 0:
            self._prev_high, self._prev_low, self._prev_close = high, low, close
            return NAN
        pc = self._prev_close
        tr = max(high, pc) - min(low, pc)
        diff_up = high - self._prev_high
        diff_dn = self._prev_low - low
        pos = diff_up if (diff_up > diff_dn and diff_up > 0) else 0.0
        neg = diff_dn if (diff_dn > diff_up and diff_dn > 0) else 0.0
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        if i <= n:
            self._s_tr += tr
            self._s_up += pos
            self._s_dn += neg
            if i < n:
                return NAN
        else:
            self._s_tr = self._s_tr - self._s_tr / n + tr
            self._s_up = self._s_up - self._s_up / n + pos
            self._s_dn = self._s_dn - self._s_dn / n + neg
        dip = 100.0 * self._s_up / self._s_tr if self._s_tr != 0 else 0.0
        din = 100.0 * self._s_dn / self._s_tr if self._s_tr != 0 else 0.0
        dx = 100.0 * abs((dip - din) / (dip + din)) if dip + din != 0 else 0.0
        if i < 2 * n - 1:
            self._dx_seed.append(dx)
            return NAN
        if i == 2 * n - 1:
            # ta: the first ADX is the mean of the first n DX values (this bar's included).
            self._dx_seed.append(dx)
            self._adx = sum(self._dx_seed) / n
            self._dx_seed = []
            return self._adx
        self._adx = (self._adx * (n - 1) + dx) / n
        return self._adx
