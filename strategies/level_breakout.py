"""Level breakout / breakdown strategy: confirmed closes through price levels.

Watches fixed resistance prices and (optionally) the moving 52-week peak. Per level
it keeps a state, BELOW or ABOVE, set from the first bar after warm-up (no signal on
that bar). A breakout needs `confirm_closes` consecutive closes above
`level * (1 + breakout_buffer_pct/100)` plus, when enabled, a volume surge and the
optional RSI/ADX filters; a breakdown needs the same number of closes below
`level * (1 - breakdown_buffer_pct/100)`. Filters gate breakouts only: an exit
signal is never held back by a momentum filter.

The moving peak: each close is compared with the peak as of its own bar (the highest
high of the prior sessions, never including that bar). When a breakout above the
peak fires at bar t, the peak that the first confirming close (bar t - confirm_closes
+ 1) broke is frozen and used for the breakdown test until the level is BELOW again.
When the volume rule (or a filter) held the breakout back for some bars, that is the
first of the last `confirm_closes` closes, not the first close of the whole run.

Near misses: after `record_near_misses()` the strategy appends a `Rejection` for each
breakout or breakdown it did not give, with the rule that held it back: the volume rule
or an RSI/ADX filter (each bar with enough confirming closes that fails them), or
`confirm_closes` (a run of closes beyond the buffer that ended too short; recorded at
the run's last close, once the next close ends it). Off by default; the work is done
only on those rare paths, so the per-bar loop costs the same and the signals are the
same either way.

Bars arrive one at a time; all indicators are incremental (bounded windows), so this
same object serves backtests and live trading. It emits signals and never calls a broker.
Its thresholds are `strategies.level_config`'s, each level's state and the status table
`strategies.level_state`'s; its signals (`strategies.level_signal`) carry the level as
their tag and details; its chart series are in `strategies.level_plot`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.indicators import ADX, RSI, RollingMean, SessionPeak
from bot.models import Bar, Rejection, Signal
from bot.strategy import PlotSeries, StrategyStatus
from strategies.level_config import PEAK_LEVEL, LevelBreakoutConfig, describe_rules, level_name
from strategies.level_signal import DIRECTION, INTENT, LevelSignal, SignalKind
from strategies.level_state import LevelState, level_status

if TYPE_CHECKING:
    from bot.data.series import BarSeries

__all__ = ["LevelBreakout", "LevelSignal", "SignalKind"]

_NO_SIGNALS: tuple[Signal, ...] = ()


class LevelBreakout:
    """The strategy object: `on_bar(bar)` -> signals confirmed at that bar."""

    name = "level_breakout"
    id_prefix = "lb"  # client order ids: lb-BABA-r163.43-20260113T0000-buy

    def __init__(self, cfg: LevelBreakoutConfig) -> None:
        self.cfg = cfg
        n = cfg.confirm_closes
        self.levels = [
            LevelState(level_name(v), v, current=v, refs=deque(maxlen=n)) for v in cfg.levels
        ]
        self._peak_state: LevelState | None = None
        self._peak: SessionPeak | None = None
        if cfg.use_52w_peak:
            self._peak_state = LevelState(PEAK_LEVEL, None, refs=deque(maxlen=n))
            self.levels.append(self._peak_state)
            self._peak = SessionPeak(cfg.peak_lookback_sessions)
        self._up = 1.0 + cfg.breakout_buffer_pct / 100.0
        self._dn = 1.0 - cfg.breakdown_buffer_pct / 100.0
        self._n = cfg.confirm_closes
        self._closes: deque[float] = deque(maxlen=cfg.confirm_closes)
        self._use_volume = cfg.volume_multiple > 0
        self._vol = RollingMean(cfg.volume_lookback)
        self._rsi = RSI(cfg.rsi_period) if cfg.rsi_filter else None
        self._adx = ADX(cfg.adx_period) if cfg.adx_filter else None
        self.bars_seen = 0
        self._warm = False
        self.last_bar: Bar | None = None
        self.last_rsi = math.nan
        self.last_adx = math.nan
        # Signals not given and why (record_near_misses()); None = not recorded.
        self.near_misses: list[Rejection] | None = None

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        """Feed one closed bar; returns the signals it confirms (usually none)."""
        close = bar.close
        self._closes.append(close)
        self.bars_seen += 1
        # Volume mean of the bars *before* this one (the push returns the prior mean).
        vol_mean = self._vol.push(bar.volume)
        rsi = adx = math.nan
        if self._rsi is not None:
            rsi = self.last_rsi = self._rsi.update(close)
        if self._adx is not None:
            adx = self.last_adx = self._adx.update(bar.high, bar.low, close)
        if self._peak is not None:
            # The peak as of this bar excludes the bar itself (no look-ahead).
            lv = self._peak_state
            assert lv is not None
            lv.current, lv.current_ts = self._peak.update(bar.session, bar.high, bar.ts)
        # self.last_bar is still the previous bar inside the loop (a run that ends here
        # ended on it); it becomes this bar at the end.
        ready = self._warm or self._check_warm(vol_mean, rsi, adx)

        out: list[Signal] | None = None
        up, dn, n = self._up, self._dn, self._n
        for lv in self.levels:
            cur = lv.current
            if cur != cur:  # moving peak not warmed up yet: nothing to compare with
                lv.above_run = lv.below_run = 0
                continue
            # Breakouts compare each close with the level as of its own bar; breakdowns
            # compare with the level that was broken (frozen) while the level is ABOVE.
            state = lv.state
            if close > cur * up:
                lv.above_run += 1
                lv.refs.append(cur)
            elif lv.above_run:
                if lv.above_run < n and state == "BELOW" and self.near_misses is not None:
                    self._short_run(SignalKind.BREAKOUT, lv, lv.above_run, lv.refs[-lv.above_run])
                lv.above_run = 0
            ref = lv.frozen if state == "ABOVE" else cur
            if close < ref * dn:
                lv.below_run += 1
            elif lv.below_run:
                if lv.below_run < n and state == "ABOVE" and self.near_misses is not None:
                    self._short_run(SignalKind.BREAKDOWN, lv, lv.below_run, ref)
                lv.below_run = 0
            if not ready:
                continue
            if state is None:
                # First bar after warm-up: take the side of the level, never a signal.
                lv.state = "ABOVE" if close > cur else "BELOW"
                lv.frozen = cur
            elif (lv.above_run >= n and state == "BELOW") or (
                lv.below_run >= n and state == "ABOVE"
            ):
                sig = self._decide(lv, bar, vol_mean, rsi, adx)
                if sig is not None:
                    if out is None:
                        out = []
                    out.append(sig)
        self.last_bar = bar
        return out if out is not None else _NO_SIGNALS

    def record_near_misses(self) -> list[Rejection]:
        """Start recording the signals not given (see the module docstring); returns the
        list the strategy appends to, in the order it learns of them."""
        if self.near_misses is None:
            self.near_misses = []
        return self.near_misses

    def describe(self) -> str:
        return describe_rules(self.cfg)

    def plot(self, bars: BarSeries) -> list[PlotSeries]:
        # Imported here: pandas and ta are only needed when a chart is drawn.
        from strategies.level_plot import plot_series

        return plot_series(self.cfg, bars)

    def warmup_bars(self) -> int:
        """Bars needed before every level can give a signal (live runs fetch this many):
        the peak's sessions, the volume window, the filters' windows, the confirming
        closes, and one bar more that only sets each level's side."""
        cfg = self.cfg
        need = [cfg.confirm_closes]
        if cfg.use_52w_peak:
            need.append(cfg.peak_lookback_sessions + 1)
        if self._use_volume:
            need.append(cfg.volume_lookback + 1)
        if cfg.rsi_filter:
            need.append(cfg.rsi_period + 1)
        if cfg.adx_filter:
            need.append(2 * cfg.adx_period)  # ADX smooths the smoothed DX: two windows
        return max(need) + 1

    def _check_warm(self, vol_mean: float, rsi: float, adx: float) -> bool:
        """Warm once enough bars for the confirming closes, volume mean and filters."""
        warm = self.bars_seen >= self._n
        if self._use_volume and vol_mean != vol_mean:
            warm = False
        if (self._rsi is not None and rsi != rsi) or (self._adx is not None and adx != adx):
            warm = False
        self._warm = warm
        return warm

    def _decide(
        self, lv: LevelState, bar: Bar, vol_mean: float, rsi: float, adx: float
    ) -> Signal | None:
        """A level with enough confirming closes: apply the filters and switch its state."""
        if lv.state == "BELOW":
            cfg = self.cfg
            ratio = bar.volume / vol_mean if vol_mean > 0 else math.inf
            if (
                (self._use_volume and ratio < cfg.volume_multiple)
                or (self._rsi is not None and not rsi < cfg.rsi_max)
                or (self._adx is not None and not adx > cfg.adx_min)
            ):
                if self.near_misses is not None:
                    self._held_back(lv, bar, ratio, rsi, adx)
                return None
            # Keep the level that was broken: for the moving peak, the one the first
            # confirming close (this bar's n - 1 predecessor) went through, not the peak
            # the breakout itself lifted nor the one at the start of a longer run that a
            # filter held back.
            level = lv.refs[0] if lv.fixed is None else lv.fixed
            lv.state, lv.frozen = "ABOVE", level
            return self._signal(SignalKind.BREAKOUT, lv, level, bar, ratio, rsi, adx)
        if lv.state == "ABOVE":
            level = lv.frozen
            lv.state, lv.frozen = "BELOW", math.nan
            ratio = bar.volume / vol_mean if vol_mean > 0 else math.nan
            return self._signal(SignalKind.BREAKDOWN, lv, level, bar, ratio, rsi, adx)
        return None

    def _held_back(self, lv: LevelState, bar: Bar, ratio: float, rsi: float, adx: float) -> None:
        """Record a breakout with its confirming closes that a filter held back."""
        cfg = self.cfg
        why: list[str] = []
        if self._use_volume and ratio < cfg.volume_multiple:
            why.append(
                f"volume {ratio:.2f}x the {cfg.volume_lookback}-bar mean < {cfg.volume_multiple:g}x"
            )
        if self._rsi is not None and not rsi < cfg.rsi_max:
            why.append(f"RSI {rsi:.1f} >= {cfg.rsi_max:g}")
        if self._adx is not None and not adx > cfg.adx_min:
            why.append(f"ADX {adx:.1f} <= {cfg.adx_min:g}")
        n = self._n
        level = lv.refs[0] if lv.fixed is None else lv.fixed
        closes = ", ".join(f"{c:.2f}" for c in self._closes)
        what = "closes" if n > 1 else "close"
        reason = (
            f"held back: {'; '.join(why)} ({n} {what} above {self._label(lv, level)} "
            f"+{cfg.breakout_buffer_pct:g}%: {closes})"
        )
        self._near_miss(SignalKind.BREAKOUT, lv, bar.ts, reason)

    def _short_run(self, kind: SignalKind, lv: LevelState, k: int, level: float) -> None:
        """Record a run of k < confirm_closes closes beyond the buffer that just ended.

        Called on the bar that ended it, before `last_bar` moves on: the run's last close
        was the previous bar, where the miss is put."""
        prev = self.last_bar
        assert self.near_misses is not None and prev is not None
        cfg = self.cfg
        closes = list(self._closes)[-k - 1 : -1]
        if kind is SignalKind.BREAKOUT:
            side, buf = "above", f"+{cfg.breakout_buffer_pct:g}%"
        else:
            side, buf = "below", f"-{cfg.breakdown_buffer_pct:g}%"
        reason = (
            f"not confirmed: {k} close{'s' if k > 1 else ''} {side} {self._label(lv, level)} "
            f"{buf} ({', '.join(f'{c:.2f}' for c in closes)}), {self._n} needed; "
            f"the next close {self._closes[-1]:.2f} was not"
        )
        if lv.fixed is None and kind is SignalKind.BREAKOUT:
            reason += f" (peak then {lv.current:.2f})"
        self._near_miss(kind, lv, prev.ts, reason)

    def _near_miss(self, kind: SignalKind, lv: LevelState, ts: int, reason: str) -> None:
        assert self.near_misses is not None
        self.near_misses.append(Rejection(ts, f"{kind} {lv.name}", reason, DIRECTION[kind]))

    @staticmethod
    def _label(lv: LevelState, level: float) -> str:
        return f"{level:.2f}" if lv.fixed is not None else f"the 52-week peak {level:.2f}"

    def _signal(
        self,
        kind: SignalKind,
        lv: LevelState,
        level: float,
        bar: Bar,
        ratio: float,
        rsi: float,
        adx: float,
    ) -> Signal:
        cfg = self.cfg
        n = self._n
        closes = ", ".join(f"{c:.2f}" for c in list(self._closes)[-n:])
        what = "closes" if n > 1 else "close"
        label = self._label(lv, level)
        if kind is SignalKind.BREAKOUT:
            reason = f"{n} {what} above {label} +{cfg.breakout_buffer_pct:g}% ({closes})"
            if self._use_volume:
                reason += f", volume {ratio:.1f}x the {cfg.volume_lookback}-bar mean"
            if self._rsi is not None:
                reason += f", RSI {rsi:.1f} < {cfg.rsi_max:g}"
            if self._adx is not None:
                reason += f", ADX {adx:.1f} > {cfg.adx_min:g}"
        else:
            reason = f"{n} {what} below {label} -{cfg.breakdown_buffer_pct:g}% ({closes})"
        return crossing(kind, lv.name, level, bar.ts, bar.close, ratio, reason, bar.symbol)

    def status(self) -> StrategyStatus:
        """Each level: value, side, distance of the last close, and the peak's date."""
        return level_status(self.levels, self.last_bar)


def crossing(
    kind: SignalKind,
    tag: str,
    level: float,
    ts: int,
    close: float,
    ratio: float,
    reason: str,
    symbol: str,
) -> LevelSignal:
    """A confirmed crossing of `level` as the strategy gives it (also the compiled
    kernel's, strategies/level_kernel.py): its intent, distance and volume ratio (None
    when the volume mean was not positive)."""
    enters, exits = INTENT[kind]
    return LevelSignal(
        ts=ts,
        kind=kind,
        tag=tag,
        enters=enters,
        exits=exits,
        close=close,
        reason=reason,
        strategy=LevelBreakout.name,
        id_prefix=LevelBreakout.id_prefix,
        symbol=symbol,
        level_value=level,
        distance_pct=(close / level - 1.0) * 100.0,
        volume_ratio=None if ratio != ratio or math.isinf(ratio) else ratio,
    )
