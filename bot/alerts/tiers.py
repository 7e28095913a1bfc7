"""Tiered alerts per level: what a trader wants to hear about a price level, and when.

For each watched level of a symbol, fed minute bars (and the strategy's confirmations),
in time order:

- **approaching**: a close within `approach_pct` % of the level, on either side;
- **crossed**: a bar's high (from below) or low (from above) through the level, the
  close before it on the other side. Provisional: nothing is confirmed by one bar, and
  the alert says so;
- **confirmed**: the strategy's rule fired for this level on its timeframe (the caller
  hands the confirmation in: the rule is the strategy's, not this module's);
- **failed**: after a close beyond the level (a cross that closed through it, or a
  confirmation), a later close back on the side it came from;
- **retest held**: after a confirmation, a bar that touched the level again from the far
  side (its low, or high, within `approach_pct` % of it) and closed beyond it.

Storms are latched, with hysteresis: a tier that fired is disarmed and re-arms only once a
close is `rearm_pct` % away from the level (approaching: beyond `approach_pct` +
`rearm_pct`). A wick that crosses ten times in a minute is one bar, and one alert; a
price that hovers around the level re-fires nothing until it has moved away and come
back. Each tier can be turned off (`TierConfig`). Pure: no I/O, no clock; a decision at
a bar uses that bar and the ones before it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from bot.config_models import StrictModel
from bot.models import Bar

Tier = Literal["approaching", "crossed", "confirmed", "failed", "retest_held"]
Direction = Literal["up", "down"]
TIERS: tuple[Tier, ...] = ("approaching", "crossed", "confirmed", "failed", "retest_held")


class TierConfig(StrictModel):
    """Which tiers alert, and their distances (per symbol, over the [alerts] defaults)."""

    approaching: bool = True
    crossed: bool = True
    confirmed: bool = True
    failed: bool = True
    retest_held: bool = True
    approach_pct: float = Field(1.0, gt=0, le=50)
    rearm_pct: float = Field(1.0, gt=0, le=50)
    volume_lookback: int = Field(20, ge=1, le=1000)
    # The bars the strategy's rule confirms on (`confirmed`), built from minute bars.
    timeframe: Literal["1m", "5m", "15m", "30m", "1h", "1d"] = "1d"

    def on(self, tier: Tier) -> bool:
        return bool(getattr(self, tier))


@dataclass(frozen=True, slots=True)
class TierAlert:
    """One alert a level earned at one bar: everything its message needs."""

    symbol: str
    tier: Tier
    direction: Direction  # up: through the level from below; down: from above
    level: float
    level_name: str
    ts: int  # the bar's start, UTC ns
    price: float  # the bar's close (crossed: the extreme that crossed)
    distance_pct: float  # the close vs the level, %
    volume_ratio: float | None  # the bar's volume vs the mean of the bars before it
    rule: str  # what fired, in words
    provisional: bool = False  # crossed: one bar, nothing confirmed yet

    def key(self) -> str:
        """The alert's identity: the same bar and level give the same key (a replay or a
        restart never makes a second alert of one event)."""
        return f"{self.symbol}:{self.level:g}:{self.tier}:{self.direction}:{self.ts}"


@dataclass
class _LevelState:
    value: float
    name: str
    side: Direction | None = None  # where the last close was: "up" above, "down" below
    approach_armed: bool = True
    cross_armed: bool = True
    broken: Direction | None = None  # crossed or confirmed this way, not failed yet
    confirmed: Direction | None = None  # confirmed this way, not failed yet
    retest_armed: bool = False


@dataclass
class LevelTiers:
    """The tiers of one symbol's levels (`levels`: value -> name)."""

    symbol: str
    levels: dict[float, str]
    cfg: TierConfig = field(default_factory=TierConfig)
    _states: list[_LevelState] = field(init=False)
    _volumes: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self._states = [_LevelState(v, n) for v, n in self.levels.items()]
        self._volumes = deque(maxlen=self.cfg.volume_lookback)

    def on_bar(self, bar: Bar) -> list[TierAlert]:
        """The alerts this bar earns, in the order of the levels."""
        vols = self._volumes
        ratio = bar.volume / (sum(vols) / len(vols)) if vols and sum(vols) > 0 else None
        out: list[TierAlert] = []
        for st in self._states:
            out.extend(self._level(st, bar, ratio))
        vols.append(bar.volume)
        return out

    def confirm(self, bar: Bar, level: float, direction: Direction, rule: str) -> list[TierAlert]:
        """The strategy confirmed a break of `level` at `bar`'s close (its rule, its
        timeframe): the confirmed tier, and the retest watch that follows it."""
        out = []
        for st in self._states:
            if abs(st.value - level) > 1e-9:
                continue
            st.broken = st.confirmed = direction
            st.retest_armed = True
            if self.cfg.confirmed:
                out.append(self._alert(st, "confirmed", direction, bar, bar.close, None, rule))
        return out

    # -- one level ---------------------------------------------------------------------
    def _level(self, st: _LevelState, bar: Bar, ratio: float | None) -> list[TierAlert]:
        cfg, lv = self.cfg, st.value
        dist = (bar.close - lv) / lv * 100.0
        prev = st.side
        side: Direction = "up" if bar.close > lv else "down" if bar.close < lv else (prev or "down")
        out: list[TierAlert] = []
        if st.broken is None:
            crossed: Direction | None = None
            if prev == "down" and bar.high >= lv:
                crossed = "up"
            elif prev == "up" and bar.low <= lv:
                crossed = "down"
            if crossed is not None:
                out += self._cross(st, bar, crossed, ratio)
                if side == crossed:
                    st.broken = crossed  # closed beyond it: a break that can now fail
        elif side != st.broken:
            # Closed back on the side it came from: the break failed (once). No "crossed"
            # the other way: going back through a broken level is the failure.
            if cfg.failed:
                back = "below" if st.broken == "up" else "above"
                why = f"close {bar.close:.2f} back {back} {lv:g}"
                out.append(self._alert(st, "failed", st.broken, bar, bar.close, ratio, why))
            st.broken = st.confirmed = None
            st.retest_armed = False
            st.cross_armed = False  # just went through: re-armed once the price moves away
        elif st.confirmed is not None and st.retest_armed:
            # Beyond a confirmed break: a touch of the level from the far side that closes
            # beyond it is the retest that held (once per confirmation).
            touch = bar.low if st.confirmed == "up" else bar.high
            if abs(touch - lv) / lv * 100.0 <= cfg.approach_pct:
                if cfg.retest_held:
                    why = (f"touched {touch:.2f} within {cfg.approach_pct:g}% of {lv:g}, "
                           f"closed {bar.close:.2f} beyond it")  # fmt: skip
                    out.append(
                        self._alert(st, "retest_held", st.confirmed, bar, bar.close, ratio, why)
                    )
                st.retest_armed = False
        if not out and st.broken is None and abs(dist) <= cfg.approach_pct:
            if st.approach_armed and cfg.approaching:
                toward: Direction = "up" if dist < 0 else "down"
                why = f"close {bar.close:.2f} within {cfg.approach_pct:g}% of {lv:g}"
                out.append(self._alert(st, "approaching", toward, bar, bar.close, ratio, why))
            st.approach_armed = False
        if abs(dist) >= cfg.approach_pct + cfg.rearm_pct:
            st.approach_armed = True
        if abs(dist) >= cfg.rearm_pct:
            st.cross_armed = True
        st.side = side
        return out

    def _cross(
        self, st: _LevelState, bar: Bar, way: Direction, ratio: float | None
    ) -> list[TierAlert]:
        if not st.cross_armed:
            return []
        st.cross_armed = False
        st.approach_armed = False  # through it: "approaching" would say less, later
        if not self.cfg.crossed:
            return []
        extreme = bar.high if way == "up" else bar.low
        what = "high" if way == "up" else "low"
        why = (f"{what} {extreme:.2f} through {st.value:g} intraday, close {bar.close:.2f}: "
               "not confirmed")  # fmt: skip
        return [self._alert(st, "crossed", way, bar, extreme, ratio, why, provisional=True)]

    def _alert(
        self,
        st: _LevelState,
        tier: Tier,
        way: Direction,
        bar: Bar,
        price: float,
        ratio: float | None,
        rule: str,
        provisional: bool = False,
    ) -> TierAlert:
        dist = (bar.close - st.value) / st.value * 100.0
        return TierAlert(self.symbol, tier, way, st.value, st.name, bar.ts, price,
                         dist, ratio, rule, provisional)  # fmt: skip
