"""What the engine reports: the record of a run, and what one step did.

`EngineRecord` grows for the whole run: signals, refusals, orders, fills, and what the
equity curve is made of: the close of every bar the engine marked (stepped, or skipped as
idle) and the account (cash, position) from each bar on which it changed, which is only
ever with a fill. `curves()` gives equity (cash + position x close) and position at every
marked bar, with numpy: the same float operations, in the same order, as one bar at a time.
(Appending equity and position every bar would cost a minute-bar backtest about a tenth.)
`StepResult` is what one `Engine.step` did; a new one each bar, never changed after.
Imports only bot.models and numpy.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from bot.models import Bar, Fill, OrderIntent, Rejection, Signal


def _floats() -> array[float]:
    return array("d")


@dataclass
class EngineRecord:
    """What happened, for reports: signals, decisions, orders, fills, the equity curve."""

    signals: list[Signal] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)  # every submission
    fills: list[Fill] = field(default_factory=list)
    closes: array[float] = field(default_factory=_floats)  # of every marked bar, in order
    # (index of the first bar it holds for, cash, signed position), in bar order
    accounts: list[tuple[int, float, float]] = field(default_factory=list)

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """Equity (cash + position x close) and position at the close of every marked bar."""
        close = np.frombuffer(self.closes, dtype="float64").copy()  # appends stay possible
        if not self.accounts:
            return np.zeros(len(close)), np.zeros(len(close))
        starts, cash, qty = (np.array(col) for col in zip(*self.accounts, strict=True))
        # Each account holds until the next one starts (several starting on one bar: the
        # last, as the bar's close sees it, the others for no bar).
        bars = np.diff(np.append(starts, len(close)))
        position = np.repeat(qty.astype("float64"), bars)
        return np.repeat(cash.astype("float64"), bars) + position * close, position

    @property
    def equity(self) -> np.ndarray:
        return self.curves()[0]

    @property
    def position(self) -> np.ndarray:
        return self.curves()[1]


class StepResult(NamedTuple):
    """One bar through the engine: what it decided and did, and the account at the close."""

    bar: Bar
    signals: Sequence[Signal]  # what the strategy confirmed on the bar
    intents: Sequence[OrderIntent]  # orders submitted (refused by the broker included)
    fills: Sequence[Fill]  # fills booked (of orders sent on earlier bars, or just now)
    rejections: Sequence[Rejection]  # decisions refused, with the reason
    cash: float
    position: float  # signed shares
    equity: float  # cash + position x close


__all__ = ["EngineRecord", "StepResult"]
