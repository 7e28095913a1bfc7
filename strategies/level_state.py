"""What the level breakout strategy knows about each level, and the status table of it.

`LevelState` is one level's side (BELOW / ABOVE), its value now and the one a breakdown
is tested against, and the runs of closes beyond it; `LevelBreakout`
(strategies/level_breakout.py) updates it on every bar. `level_status` turns the states
into the rows `bot signals` and `bot status` print: value, side, distance of the last
close, and for the moving peak the day of the high that made it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.models import Bar, ns_to_et
from bot.strategy import StatusRow, StrategyStatus

__all__ = ["LevelState", "level_status"]


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
    # The level as of each of the last `confirm_closes` closes above it: refs[0] is the
    # level the first confirming close broke when a breakout fires.
    refs: deque[float] = field(default_factory=deque)


def level_status(levels: Sequence[LevelState], last: Bar | None) -> StrategyStatus:
    """Each level: value, side, distance of the last close (`last`), and the peak's date."""
    rows: list[StatusRow] = []
    for lv in levels:
        value = lv.frozen if lv.state == "ABOVE" and lv.fixed is None else lv.current
        note = ""
        if lv.fixed is None:
            now = None if lv.current != lv.current else round(lv.current, 4)
            day = ns_to_et(lv.current_ts).date().isoformat() if lv.current_ts else None
            note = f"52-week peak now {now} made on {day}" if now else "warming up"
        rows.append(
            StatusRow(
                lv.name,
                None if value != value else round(value, 4),
                lv.state or "WARMING_UP",
                None
                if last is None or value != value
                else round((last.close / value - 1) * 100, 2),
                note,
            )
        )
    return StrategyStatus("level", tuple(rows))
