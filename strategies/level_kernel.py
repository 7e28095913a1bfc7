"""The level breakout strategy's compiled signal kernel: `LevelBreakout.on_bar` over a series.

The registry (strategies/__init__.py) names this module as the strategy's `kernel`; the
sweep and the scan import it only where numba is installed (bot/kernel) and call
`for_config(cfg)`, whose `LevelKernel` gives the signals as arrays (`signals`) for the
compiled fills, or as the strategy's `LevelSignal`s (`signal_objects`) for `bot scan`.

One pass over the bars gives every signal the strategy object would give, in the same
order (by bar, then the fixed levels in the config's order, then the moving peak): its
bar, its level (an index: 0..k-1 the fixed levels, k the peak), its kind and the level's
value it crossed (`LevelSignal.level_value`). The rules,
line for line those of strategies/level_breakout.py (no near misses, no texts):
- each level's side is set on the first warm bar (enough closes, and the volume mean and
  the filters defined), never a signal on it;
- a run counts closes above level x (1 + up) (each close against the level as of its own
  bar) and closes below the level a breakdown is tested against x (1 - dn);
- a breakout needs `confirm` closes and passes the volume rule and the filters; the peak
  it broke is the one the first of the last `confirm` closes went through (frozen);
- a breakdown needs `confirm` closes below the frozen level.
Inputs are the precomputed series of bot.kernel.series (NaN where not ready); an unused
one (no peak, a filter off) is an empty array. Levels do not depend on each other (the
warm-up bar is common to all), so each level is one pass with its state in registers,
and the signals are then put in the strategy's order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bot.kernel.jit import jit
from bot.kernel.run import Kernel, Signals
from strategies.level_breakout import crossing
from strategies.level_config import PEAK_LEVEL, LevelBreakoutConfig, level_name
from strategies.level_signal import LevelSignal, SignalKind

BREAKOUT, BREAKDOWN = 1, 2
UNSET, BELOW, ABOVE = 0, 1, 2
# Integer parameters: `ints[...]`.
I_CONFIRM, I_USE_VOLUME, I_RSI, I_ADX, I_STOP = range(5)
# Float parameters: `floats[...]`.
F_UP, F_DN, F_VOLUME_MULTIPLE, F_RSI_MAX, F_ADX_MIN = range(5)


@jit
def level_signals(
    close: np.ndarray,
    volume: np.ndarray,
    levels: np.ndarray,
    peak: np.ndarray,
    vmean: np.ndarray,
    rsi: np.ndarray,
    adx: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bar, level, kind, value) of each signal over bars [0, ints[I_STOP]), in the
    strategy's order: by bar, then by level."""
    warm_at = _warm_from(ints, vmean, rsi, adx)
    count = len(levels) + (1 if len(peak) > 0 else 0)
    out_bar = np.empty(0, np.int64)
    out_level = np.empty(0, np.int64)
    out_kind = np.empty(0, np.int8)
    out_value = np.empty(0)
    for k in range(count):
        moving = k >= len(levels)
        value = math.nan if moving else levels[k]
        bar, kind, crossed = _one_level(
            close, volume, value, peak, moving, vmean, rsi, adx, warm_at, ints, floats
        )
        out_bar = np.concatenate((out_bar, bar))
        out_level = np.concatenate((out_level, np.full(len(bar), k, np.int64)))
        out_kind = np.concatenate((out_kind, kind))
        out_value = np.concatenate((out_value, crossed))
    if count > 1:
        order = np.argsort(out_bar * count + out_level)
        out_bar, out_level = out_bar[order], out_level[order]
        out_kind, out_value = out_kind[order], out_value[order]
    return out_bar, out_level, out_kind, out_value


@jit
def _warm_from(ints: np.ndarray, vmean: np.ndarray, rsi: np.ndarray, adx: np.ndarray) -> int:
    """The first bar on which the strategy is warm (it stays warm from then on)."""
    n, stop = ints[I_CONFIRM], ints[I_STOP]
    use_volume, use_rsi, use_adx = ints[I_USE_VOLUME] != 0, ints[I_RSI] != 0, ints[I_ADX] != 0
    for i in range(n - 1, stop):
        if use_volume and vmean[i] != vmean[i]:
            continue
        if (use_rsi and rsi[i] != rsi[i]) or (use_adx and adx[i] != adx[i]):
            continue
        return int(i)
    return int(stop)


@jit
def _one_level(
    close: np.ndarray,
    volume: np.ndarray,
    value: float,
    peak: np.ndarray,
    moving: bool,
    vmean: np.ndarray,
    rsi: np.ndarray,
    adx: np.ndarray,
    warm_at: int,
    ints: np.ndarray,
    floats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bar, kind, value crossed) of one level's signals: the fixed price `value`, or the peak."""
    n, stop = ints[I_CONFIRM], ints[I_STOP]
    use_volume, use_rsi, use_adx = ints[I_USE_VOLUME] != 0, ints[I_RSI] != 0, ints[I_ADX] != 0
    up, dn = floats[F_UP], floats[F_DN]
    multiple, rsi_max, adx_min = floats[F_VOLUME_MULTIPLE], floats[F_RSI_MAX], floats[F_ADX_MIN]
    state, frozen, above, below = UNSET, math.nan, 0, 0
    # The level as of each of the last n closes above it (a ring; `at` is the oldest
    # once n were pushed): the peak a breakout broke is the first confirming close's.
    refs = np.empty(n)
    at = 0
    # At most one signal a bar once warm. Allocated, not grown: an array that may be
    # replaced inside the loop costs reference counting on every bar (4x the loop).
    out_bar = np.empty(max(stop - warm_at, 0), np.int64)
    out_kind = np.empty(max(stop - warm_at, 0), np.int8)
    out_value = np.empty(max(stop - warm_at, 0))
    found = 0
    cur = value
    for i in range(stop):
        if moving:
            cur = peak[i]
            if cur != cur:  # not warmed up yet: nothing to compare with
                above = below = 0
                continue
        c = close[i]
        if c > cur * up:
            above += 1
            if moving:
                refs[at] = cur
                at = at + 1 if at + 1 < n else 0
        else:
            above = 0
        if c < (frozen if state == ABOVE else cur) * dn:
            below += 1
        else:
            below = 0
        if i < warm_at:
            continue
        kind, crossed = 0, frozen
        if state == UNSET:
            state = ABOVE if c > cur else BELOW
            frozen = cur
        elif above >= n and state == BELOW:
            vm = vmean[i] if use_volume else math.nan
            ratio = volume[i] / vm if vm > 0 else math.inf
            if not (
                (use_volume and ratio < multiple)
                or (use_rsi and not rsi[i] < rsi_max)
                or (use_adx and not adx[i] > adx_min)
            ):
                state = ABOVE
                frozen = crossed = refs[at] if moving else value
                kind = BREAKOUT
        elif below >= n and state == ABOVE:
            state = BELOW
            frozen = math.nan
            kind = BREAKDOWN
        if kind:
            out_bar[found], out_kind[found], out_value[found] = i, kind, crossed
            found += 1
    return out_bar[:found].copy(), out_kind[:found].copy(), out_value[:found].copy()


_EMPTY = np.empty(0)


@dataclass(frozen=True)
class LevelKernel:
    """The rules of one config: what the compiled function needs, and the level names."""

    cfg: LevelBreakoutConfig
    levels: np.ndarray
    peak_lookback: int  # 0: no moving peak
    volume_lookback: int  # 0: no volume rule
    rsi_period: int  # 0: no RSI filter
    adx_period: int  # 0: no ADX filter
    ints: np.ndarray
    floats: np.ndarray

    def names(self) -> tuple[str, ...]:
        """Each level's name (its signals' tag): the fixed ones, then the peak."""
        names = tuple(level_name(v) for v in self.cfg.levels)
        return names + ((PEAK_LEVEL,) if self.peak_lookback else ())

    def crossings(self, kernel: Kernel, stop: int) -> tuple[np.ndarray, ...]:
        """(bar, level, kind, value crossed) of every signal over bars [0, stop)."""
        ints = self.ints.copy()
        ints[I_STOP] = stop
        return level_signals(
            kernel.column("close"),
            kernel.column("volume"),
            self.levels,
            kernel.indicator("peak", self.peak_lookback) if self.peak_lookback else _EMPTY,
            kernel.indicator("volume", self.volume_lookback) if self.volume_lookback else _EMPTY,
            kernel.indicator("rsi", self.rsi_period) if self.rsi_period else _EMPTY,
            kernel.indicator("adx", self.adx_period) if self.adx_period else _EMPTY,
            ints,
            self.floats,
        )

    def signals(self, kernel: Kernel, stop: int) -> Signals:
        """The signals as the compiled fills read them: a breakout enters long (or covers a
        short of its level), a breakdown the reverse."""
        bar, level, kind, _ = self.crossings(kernel, stop)
        side = np.where(kind == BREAKOUT, 1, -1).astype(np.int8)
        return Signals(bar, level, side, self.names())

    def signal_objects(
        self, kernel: Kernel, symbol: str, start: int, stop: int
    ) -> list[LevelSignal]:
        """The signals of bars [start, stop) as the strategy gives them (`reason` left
        empty), computed from bars [0, stop)."""
        bar, level, kind, value = self.crossings(kernel, stop)
        names = self.names()
        # The strategy's volume mean is kept whether its rule is on or not.
        vmean = kernel.indicator("volume", self.cfg.volume_lookback)
        close, volume, ts = kernel.column("close"), kernel.column("volume"), kernel.column("ts")
        first = int(np.searchsorted(bar, start))
        out: list[LevelSignal] = []
        rows = zip(bar[first:].tolist(), level[first:].tolist(), kind[first:].tolist(),
                   value[first:].tolist(), strict=True)  # fmt: skip
        for i, k, code, crossed in rows:
            what = SignalKind.BREAKOUT if code == BREAKOUT else SignalKind.BREAKDOWN
            vm = float(vmean[i])
            ratio = float(volume[i]) / vm if vm > 0 else math.nan  # None on the signal
            sig = crossing(what, names[k], crossed, int(ts[i]), float(close[i]), ratio, "", symbol)
            out.append(sig)
        return out


def for_config(cfg: LevelBreakoutConfig) -> LevelKernel:
    """The kernel of one [strategy] table (the registry's entry point)."""
    ints = np.zeros(5, np.int64)
    ints[I_CONFIRM] = cfg.confirm_closes
    ints[I_USE_VOLUME] = cfg.volume_multiple > 0
    ints[I_RSI] = cfg.rsi_filter
    ints[I_ADX] = cfg.adx_filter
    floats = np.zeros(5)
    floats[F_UP] = 1.0 + cfg.breakout_buffer_pct / 100.0
    floats[F_DN] = 1.0 - cfg.breakdown_buffer_pct / 100.0
    floats[F_VOLUME_MULTIPLE] = cfg.volume_multiple
    floats[F_RSI_MAX] = cfg.rsi_max
    floats[F_ADX_MIN] = cfg.adx_min
    return LevelKernel(
        cfg,
        np.array(cfg.levels, dtype="float64"),
        cfg.peak_lookback_sessions if cfg.use_52w_peak else 0,
        cfg.volume_lookback if cfg.volume_multiple > 0 else 0,
        cfg.rsi_period if cfg.rsi_filter else 0,
        cfg.adx_period if cfg.adx_filter else 0,
        ints,
        floats,
    )
