"""The level breakout strategy's signal: the level crossed, as details of a neutral signal.

A breakout enters long (or covers a short opened on the same level); a breakdown exits
a long opened on that level (or enters short). The level's name is the signal's tag, so
an exit pairs with the entry made on the same level. Shown as the bot always showed it:
`breakout resistance_163.43 (163.43)`, order ids `lb-BABA-r163.43-20260113T0000-buy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.models import Detail, Direction, Signal


class SignalKind(StrEnum):
    BREAKOUT = "breakout"
    BREAKDOWN = "breakdown"


# (enters, exits) of each kind.
INTENT = {
    SignalKind.BREAKOUT: (Direction.LONG, Direction.SHORT),
    SignalKind.BREAKDOWN: (Direction.SHORT, Direction.LONG),
}
# Pointing down on charts (near misses).
DIRECTION = {SignalKind.BREAKOUT: Direction.LONG, SignalKind.BREAKDOWN: Direction.SHORT}


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelSignal(Signal):
    """A confirmed crossing of a level; `tag` is the level's name."""

    level_value: float  # the price level that was crossed
    distance_pct: float  # (close / level - 1) * 100
    volume_ratio: float | None  # bar volume / mean of the lookback bars before it

    @property
    def level(self) -> str:
        """The level's name, e.g. "resistance_163.43" or "peak_52w"."""
        return self.tag

    def id_tag(self) -> str:
        return self.tag.replace("resistance_", "r").replace("peak_52w", "pk52w")

    def details(self) -> tuple[Detail, ...]:
        value, dist, vr = self.level_value, self.distance_pct, self.volume_ratio
        return (
            Detail("level", self.tag, "level", self.tag),
            Detail("level_value", round(value, 4), "level value", f"{value:.2f}"),
            Detail("close", self.close, "close", f"{self.close:.2f}"),
            Detail("distance_pct", round(dist, 3), "dist %", f"{dist:+.2f}"),
            Detail(
                "volume_ratio",
                None if vr is None else round(vr, 3),
                "vol x",
                "" if vr is None else f"{vr:.2f}",
            ),
        )

    def label(self) -> str:
        return f"{self.kind} {self.tag} ({round(self.level_value, 4)})"
