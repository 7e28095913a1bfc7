"""Walk-forward windows: which bars each combination is scored on.

Bar positions are indices into the loaded series; the sweep's date range is
[lo, hi). Rolling: train window k is [lo + k*step, lo + k*step + train) and its test
window the `test` bars right after it (the last one may be shorter, never under 2
bars). Anchored: every train window starts at lo and grows by `step`. A run
[start, stop) trades only those bars; bars before `start` only warm the indicators up,
exactly as `run_backtest(settings, series, start, stop)` does, so a train window never
sees a bar of its test window. The *final* window is where the parameters to trade
from now on are chosen: the last `train` bars (rolling) or all of [lo, hi) (anchored);
it has no test window. Pure arithmetic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config_load import ConfigError

Span = tuple[int, int]  # [start, stop) bar positions


@dataclass(frozen=True)
class WalkForward:
    train_bars: int
    test_bars: int
    step_bars: int
    anchored: bool


@dataclass(frozen=True)
class Plan:
    """Every span a combination is run on, and what each one is for."""

    full: Span  # the whole date range (what `bot backtest --from --to` trades)
    trains: tuple[Span, ...]
    tests: tuple[Span, ...]  # tests[k] follows trains[k]
    final: Span  # the live selection window (no test)

    @property
    def runs(self) -> tuple[Span, ...]:
        """All spans in a fixed order: full, trains, tests, final (results follow it)."""
        return (self.full, *self.trains, *self.tests, self.final)

    @property
    def windows(self) -> int:
        return len(self.trains)

    def train_run(self, k: int) -> int:
        return 1 + k

    def test_run(self, k: int) -> int:
        return 1 + self.windows + k

    @property
    def final_run(self) -> int:
        return 1 + 2 * self.windows

    @property
    def contiguous(self) -> bool:
        """Test windows follow each other with no gap or overlap (stitchable)."""
        return all(a[1] == b[0] for a, b in zip(self.tests, self.tests[1:], strict=False))


MIN_BARS = 2  # a Sharpe ratio needs two returns' worth of bars


def make_plan(lo: int, hi: int, wf: WalkForward) -> Plan:
    """The walk-forward spans over [lo, hi); ConfigError when not even one fits."""
    n = hi - lo
    if wf.train_bars + MIN_BARS > n:
        raise ConfigError(
            f"walk_forward: train_bars ({wf.train_bars}) + a test window of at least "
            f"{MIN_BARS} bars does not fit in the {n} bars of the date range; lower "
            "train_bars or widen the range"
        )
    trains: list[Span] = []
    tests: list[Span] = []
    k = 0
    while True:
        start = lo if wf.anchored else lo + k * wf.step_bars
        end = (lo + wf.train_bars + k * wf.step_bars) if wf.anchored else start + wf.train_bars
        test_end = min(end + wf.test_bars, hi)
        if test_end - end < MIN_BARS:
            break
        trains.append((start, end))
        tests.append((end, test_end))
        k += 1
    final = (lo, hi) if wf.anchored else (hi - wf.train_bars, hi)
    return Plan((lo, hi), tuple(trains), tuple(tests), final)
