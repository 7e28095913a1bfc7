"""The contract between the engine and a strategy; implementations live in strategies/.

A strategy turns closed bars into neutral signals (`bot.models.Signal`: enter or exit,
long or short, a tag that pairs an exit with its entry, display details). It never sees
a broker or an account. For people it also gives a one-line description, a typed status
and the series its backtest chart shows. Its config model derives from `StrategyConfig`
and is registered with its class in strategies/__init__.py, the only place that knows
which strategies exist. Imports nothing that trades.

Optional: `record_near_misses() -> list[Rejection]` starts recording the signals the
rules held back (the chart marks them); a strategy without it shows none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.models import Bar, Signal

if TYPE_CHECKING:
    # Annotations only: `bot paper` imports this before it takes its state lock, and
    # numpy is heavy (strategies import it where they draw).
    import numpy as np

    from bot.data.series import BarSeries


class StrategyConfig(BaseModel):
    """Base of every strategy's config model (the [strategy] table): `name` picks the
    strategy in the registry, which validates the rest of the table with its model."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One thing the strategy watches (a level, an average) as of the last bar."""

    name: str
    value: float | None  # None while warming up
    side: str  # where the last close is: "ABOVE", "BELOW" or "WARMING_UP"
    distance_pct: float | None  # last close vs value, %
    note: str = ""


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """What `bot signals` and `bot status` show under the signals."""

    subject: str  # what a row is, e.g. "level": the title of the first column
    rows: tuple[StatusRow, ...]


Panel = Literal["price", "volume", "oscillator"]  # oscillator: a 0-100 panel of its own
Bucket = Literal["last", "max", "sum"]  # how k bars become one point on long charts


@dataclass(frozen=True)
class PlotSeries:
    """A line on the backtest chart, one value per bar of the series given to `plot`
    (NaN: no value yet), or a float for a flat line across the chart."""

    name: str
    values: np.ndarray | float
    panel: Panel = "price"
    color: str = "gray"
    dash: bool = False
    width: float | None = None
    bucket: Bucket = "last"
    hover: str = ""  # what the line means (hover text, PNG legend)


class SignalSource(Protocol):
    """What the engine needs: the signals of each bar and the prefix of its order ids."""

    id_prefix: str

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        """Feed one closed bar (in time order); return the signals confirmed at it."""
        ...


class Strategy(SignalSource, Protocol):
    name: str

    def warmup_bars(self) -> int:
        """Closed bars needed before the strategy can give every signal."""
        ...

    def describe(self) -> str:
        """The rules and thresholds in one line."""
        ...

    def status(self) -> StrategyStatus:
        """What it watches as of the last bar fed."""
        ...

    def plot(self, bars: BarSeries) -> list[PlotSeries]:
        """The series its chart shows over `bars` (computed from them, as `on_bar` sees
        them: no value uses a later bar)."""
        ...
