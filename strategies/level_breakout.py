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
peak fires, the peak that the first confirming close broke is frozen and used for
the breakdown test until the level is BELOW again.

Bars arrive one at a time; all indicators are incremental (bounded windows), so this
same object serves backtests and live trading. It emits signals and never calls a broker.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.indicators import ADX, RSI, RollingMean, SessionPeak
from bot.models import Bar, Signal, SignalKind, ns_to_et

PEAK_LEVEL = "peak_52w"
_NO_SIGNALS: tuple[Signal, ...] = ()


class LevelBreakoutConfig(BaseModel):
    """Thresholds of the level breakout rules (the [strategy] table of the config)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: Literal["level_breakout"] = "level_breakout"
    levels: list[Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)]] = Field(
        default_factory=lambda: [163.43], max_length=100
    )
    use_52w_peak: bool = True
    peak_lookback_sessions: int = Field(252, ge=2, le=2520)
    breakout_buffer_pct: float = Field(1.0, ge=0, le=50)
    breakdown_buffer_pct: float = Field(1.0, ge=0, le=50)
    confirm_closes: int = Field(2, ge=1, le=50)
    volume_multiple: float = Field(1.5, ge=0, le=100)
    volume_lookback: int = Field(20, ge=1, le=1000)
    rsi_filter: bool = False
    rsi_period: int = Field(14, ge=2, le=200)
    rsi_max: float = Field(70.0, gt=0, le=100)
    adx_filter: bool = False
    adx_period: int = Field(14, ge=2, le=200)
    adx_min: float = Field(20.0, ge=0, lt=100)

    @model_validator(mode="after")
    def _some_level(self) -> LevelBreakoutConfig:
        if not self.levels and not self.use_52w_peak:
            raise ValueError("no level to watch: set levels or use_52w_peak = true")
        return self


def describe_rules(cfg: LevelBreakoutConfig) -> str:
    """The rules in one line, for people reading a report."""
    levels = ", ".join(f"{v:g}" for v in cfg.levels)
    if cfg.use_52w_peak:
        levels += f" + 52-week peak ({cfg.peak_lookback_sessions} sessions)"
    text = (
        f"levels {levels}; {cfg.confirm_closes} confirming close(s), buffers "
        f"+{cfg.breakout_buffer_pct:g}%/-{cfg.breakdown_buffer_pct:g}%"
    )
    if cfg.volume_multiple > 0:
        text += f", volume >= {cfg.volume_multiple:g}x the {cfg.volume_lookback}-bar mean"
    if cfg.rsi_filter:
        text += f", RSI({cfg.rsi_period}) < {cfg.rsi_max:g}"
    if cfg.adx_filter:
        text += f", ADX({cfg.adx_period}) > {cfg.adx_min:g}"
    return text


def level_name(value: float) -> str:
    return f"resistance_{value:g}"


@dataclass(slots=True)
class LevelState:
    """What the strategy knows about one level; read by `bot signals` and `bot status`."""

    name: str
    fixed: float | None  # None for the moving peak
    state: Literal["BELOW", "ABOVE"] | None = None
    frozen: float = math.nan  # the level a breakdown is tested against while ABOVE
    current: float = math.nan  # the level as of the last bar (moving for the peak)
    current_ts: int = 0  # for the peak: bar time of the high that made it
    above_run: int = 0
    below_run: int = 0
    run_start_ref: float = math.nan  # level at the first close of the current above-run


class LevelBreakout:
    """The strategy object: `on_bar(bar)` -> signals confirmed at that bar."""

    name = "level_breakout"

    def __init__(self, cfg: LevelBreakoutConfig) -> None:
        self.cfg = cfg
        self.levels = [LevelState(level_name(v), v, current=v) for v in cfg.levels]
        self._peak_state: LevelState | None = None
        self._peak: SessionPeak | None = None
        if cfg.use_52w_peak:
            self._peak_state = LevelState(PEAK_LEVEL, None)
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
        self.last_bar = bar
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
            if close > cur * up:
                lv.above_run += 1
                if lv.above_run == 1:
                    lv.run_start_ref = cur
            else:
                lv.above_run = 0
            state = lv.state
            ref = lv.frozen if state == "ABOVE" else cur
            lv.below_run = lv.below_run + 1 if close < ref * dn else 0
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
        return out if out is not None else _NO_SIGNALS

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
            ratio = bar.volume / vol_mean if vol_mean > 0 else math.inf
            if self._use_volume and ratio < self.cfg.volume_multiple:
                return None
            if self._rsi is not None and not rsi < self.cfg.rsi_max:
                return None
            if self._adx is not None and not adx > self.cfg.adx_min:
                return None
            # Keep the level that was broken: for the moving peak, the one the first
            # confirming close went through, not the peak the breakout itself lifted.
            level = lv.run_start_ref if lv.fixed is None else lv.fixed
            lv.state, lv.frozen = "ABOVE", level
            return self._signal(SignalKind.BREAKOUT, lv, level, bar, ratio, rsi, adx)
        if lv.state == "ABOVE":
            level = lv.frozen
            lv.state, lv.frozen = "BELOW", math.nan
            ratio = bar.volume / vol_mean if vol_mean > 0 else math.nan
            return self._signal(SignalKind.BREAKDOWN, lv, level, bar, ratio, rsi, adx)
        return None

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
        label = f"{level:.2f}" if lv.fixed is not None else f"the 52-week peak {level:.2f}"
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
        return Signal(
            kind=kind,
            level=lv.name,
            level_value=level,
            ts=bar.ts,
            close=bar.close,
            distance_pct=(bar.close / level - 1.0) * 100.0,
            volume_ratio=None if ratio != ratio or math.isinf(ratio) else ratio,
            reason=reason,
            strategy=self.name,
        )

    def status(self) -> list[dict[str, object]]:
        """Each level: value, side, distance of the last close, and the peak's date."""
        last = self.last_bar
        rows: list[dict[str, object]] = []
        for lv in self.levels:
            value = lv.frozen if lv.state == "ABOVE" and lv.fixed is None else lv.current
            row: dict[str, object] = {
                "level": lv.name,
                "value": None if value != value else round(value, 4),
                "state": lv.state or "WARMING_UP",
                "distance_pct": None
                if last is None or value != value
                else round((last.close / value - 1) * 100, 2),
            }
            if lv.fixed is None:
                row["peak_now"] = None if lv.current != lv.current else round(lv.current, 4)
                row["peak_date"] = (
                    ns_to_et(lv.current_ts).date().isoformat() if lv.current_ts else None
                )
            rows.append(row)
        return rows
