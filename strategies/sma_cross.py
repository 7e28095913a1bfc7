"""Moving-average crossover: long while the fast average of closes is above the slow one.

`fast` and `slow` are simple moving averages of the last `fast` and `slow` closes, the
bar's own close included (it is known when the bar is judged: no look-ahead). Their side
(fast above or below slow) is set from the first bar that has both, which gives no
signal; after that a change of side is a signal at the bar where it happens:

- `cross_up`: fast goes above slow: enters long, or closes a short;
- `cross_down`: fast goes below slow: closes a long, or enters short (risk opens shorts
  only with `risk.allow_short`).

Equal averages keep the previous side, so a touch is not a cross. Each average is one
running sum over a bounded window (O(1) per bar), kept exact (`WindowSum`): a float sum
that adds and removes values drifts by a few units in the last place, so a flat
stretch (equal closes, equal averages) would cross back and forth on rounding noise.
The same object serves backtests and live bars. There are no levels: the tag that pairs
an exit with its entry is `sma_<fast>_<slow>`. It emits signals and never calls a broker.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from bot.models import Bar, Detail, Direction, Signal, ns_to_et
from bot.strategy import PlotSeries, StatusRow, StrategyConfig, StrategyStatus

if TYPE_CHECKING:
    from bot.data.series import BarSeries

_NONE: tuple[Signal, ...] = ()
_SHIFT = 1074  # 2**-1074 is the smallest float step: every finite float is a whole number of them


def _exact(x: float) -> int:
    """`x` as a whole number of 2**-1074 (exact)."""
    num, den = x.as_integer_ratio()  # den is a power of two
    return num << (_SHIFT - den.bit_length() + 1)


class WindowSum:
    """The exact sum of the last `n` values pushed, in units of 2**-1074 (Python ints):
    adding and removing never loses a bit, so two windows' averages compare exactly."""

    __slots__ = ("_buf", "_n", "total")

    def __init__(self, n: int) -> None:
        self._n = n
        self._buf: deque[int] = deque()
        self.total = 0

    @property
    def ready(self) -> bool:
        return len(self._buf) == self._n

    def push(self, exact: int) -> None:
        buf = self._buf
        buf.append(exact)
        self.total += exact
        if len(buf) > self._n:
            self.total -= buf.popleft()

    def mean(self, total: int | None = None) -> float:
        """The average (of `total`, a sum this window had), correctly rounded; NaN until
        `n` values."""
        if not self.ready:
            return math.nan
        return (self.total if total is None else total) / (self._n << _SHIFT)


class SmaCrossConfig(StrategyConfig):
    """The two windows of the crossover (the [strategy] table with name = "sma_cross")."""

    name: Literal["sma_cross"] = "sma_cross"
    fast: int = Field(10, ge=1, le=1000)
    slow: int = Field(30, ge=2, le=5000)

    @model_validator(mode="after")
    def _slow_is_slower(self) -> SmaCrossConfig:
        if self.slow <= self.fast:
            raise ValueError(f"slow ({self.slow}) must be greater than fast ({self.fast})")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class SmaSignal(Signal):
    """A crossover, with both averages as of its bar."""

    fast: int
    slow: int
    fast_sma: float
    slow_sma: float

    def details(self) -> tuple[Detail, ...]:
        f, s = self.fast_sma, self.slow_sma
        gap = (f / s - 1.0) * 100.0
        return (
            Detail("fast_sma", round(f, 4), f"SMA({self.fast})", f"{f:.2f}"),
            Detail("slow_sma", round(s, 4), f"SMA({self.slow})", f"{s:.2f}"),
            Detail("close", self.close, "close", f"{self.close:.2f}"),
            Detail("gap_pct", round(gap, 3), "gap %", f"{gap:+.2f}"),
        )

    def label(self) -> str:
        return f"{self.kind} {self.tag} ({self.fast_sma:.2f} vs {self.slow_sma:.2f})"


class SmaCross:
    """The strategy object: `on_bar(bar)` -> the crossover confirmed at that bar, if any."""

    name = "sma_cross"
    id_prefix = "sma"  # client order ids: sma-BABA-sma_10_30-20260113T0000-buy

    def __init__(self, cfg: SmaCrossConfig) -> None:
        self.cfg = cfg
        self.tag = f"sma_{cfg.fast}_{cfg.slow}"
        self._fast = WindowSum(cfg.fast)
        self._slow = WindowSum(cfg.slow)
        self.side: Direction | None = None  # LONG: fast above slow
        self.since = 0  # bar time of the bar that set the side
        self.last_bar: Bar | None = None

    @property
    def fast_value(self) -> float:
        """SMA(fast) as of the last bar (NaN while warming up)."""
        return self._fast.mean()

    @property
    def slow_value(self) -> float:
        return self._slow.mean()

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        """Feed one closed bar; returns the crossover it confirms (usually none)."""
        fast, slow = self._fast, self._slow
        before = (fast.total, slow.total)
        close = _exact(bar.close)
        fast.push(close)
        slow.push(close)
        self.last_bar = bar
        if not slow.ready:  # (fast is ready first: it is the shorter window)
            return _NONE
        # sign(fast.total / n_fast - slow.total / n_slow), exactly.
        gap = fast.total * self.cfg.slow - slow.total * self.cfg.fast
        if gap == 0:  # a touch keeps the side
            return _NONE
        side = Direction.LONG if gap > 0 else Direction.SHORT
        if side is self.side:
            return _NONE
        first = self.side is None
        self.side, self.since = side, bar.ts
        if first:  # the first side after warm-up: where the averages are, not a cross
            return _NONE
        return (self._signal(bar, side, before),)

    def _signal(self, bar: Bar, side: Direction, before: tuple[int, int]) -> SmaSignal:
        cfg, f, s = self.cfg, self.fast_value, self.slow_value
        pf, ps = self._fast.mean(before[0]), self._slow.mean(before[1])
        up = side is Direction.LONG
        reason = (
            f"SMA({cfg.fast}) {f:.2f} crossed {'above' if up else 'below'} SMA({cfg.slow}) "
            f"{s:.2f} (the bar before: {pf:.2f} vs {ps:.2f})"
        )
        return SmaSignal(
            ts=bar.ts,
            kind="cross_up" if up else "cross_down",
            tag=self.tag,
            enters=side,
            exits=Direction.SHORT if up else Direction.LONG,
            close=bar.close,
            reason=reason,
            strategy=self.name,
            id_prefix=self.id_prefix,
            symbol=bar.symbol,
            fast=cfg.fast,
            slow=cfg.slow,
            fast_sma=f,
            slow_sma=s,
        )

    def warmup_bars(self) -> int:
        """The slow window, and one bar more that only sets the side."""
        return self.cfg.slow + 1

    def describe(self) -> str:
        c = self.cfg
        return (
            f"SMA({c.fast}) vs SMA({c.slow}) of closes: cross_up enters long (or covers a "
            "short), cross_down exits a long (or enters short when risk.allow_short)"
        )

    def status(self) -> StrategyStatus:
        """Both averages as of the last bar, and since when fast has been on its side."""
        close = math.nan if self.last_bar is None else self.last_bar.close
        since = ""
        if self.side is not None:
            where = "above" if self.side is Direction.LONG else "below"
            day = ns_to_et(self.since).date().isoformat()
            since = f"{where} SMA({self.cfg.slow}) since {day}"
        rows = []
        for n, value, note in (
            (self.cfg.fast, self.fast_value, since),
            (self.cfg.slow, self.slow_value, ""),
        ):
            if value != value or close != close:
                rows.append(StatusRow(f"SMA({n})", None, "WARMING_UP", None, note))
                continue
            side = "ABOVE" if close > value else "BELOW"
            dist = round((close / value - 1) * 100, 2)
            rows.append(StatusRow(f"SMA({n})", round(value, 4), side, dist, note))
        return StrategyStatus("average", tuple(rows))

    def plot(self, bars: BarSeries) -> list[PlotSeries]:
        """Both averages over the bars (pandas rolling means: an independent check of the
        running sums on the chart)."""
        import pandas as pd  # only when a chart is drawn

        close = pd.Series(bars.close, dtype="float64")
        return [
            PlotSeries(
                f"SMA({n})",
                close.rolling(n).mean().to_numpy(dtype="float64"),
                color=color,
                hover=f"mean of the last {n} closes",
            )
            for n, color in ((self.cfg.fast, "royalblue"), (self.cfg.slow, "darkorange"))
        ]
