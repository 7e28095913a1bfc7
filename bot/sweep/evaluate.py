"""Scoring combinations: the engine loop of `bot backtest`, without its per-run overhead.

A `SweepJob` is everything a worker needs and is sent to each worker once (bars,
base config sections, parameter names, the spans to run). For one combination the
`Evaluator`:
1. runs the real strategy once over bars [0, last stop) and keeps its signals by bar
   time. A strategy sees bars only, never the account, and in `run_backtest` it is fed
   every bar from the first one (warm-up bars through `Engine.warm_up`, then traded
   bars), so its signals do not depend on where trading starts: each span replays them
   instead of re-running the strategy over its warm-up. A strategy with the same
   config is reused across combinations (risk-only sweeps run it once);
2. for each span [start, stop), builds an `Engine` with the risk manager and
   `SimBroker` of `bot.engine.backtest.build_engine`, whose only warm-up state is the ATR;
   the ATR is set to its state after bar start-1 (the same updates `run_backtest`
   makes over its warm-up), then `Engine.step` is driven over the span as
   `run_backtest` does, except over idle stretches (`Engine.idle` and `Engine.skip`,
   see `Evaluator`), and the metrics are computed with numpy (`bot.sweep.metrics`).
tests/test_sweep_engine.py checks trades, equity and metrics against `run_backtest` +
`compute_metrics` for several combinations and spans.

That is the engine path. Where numba is installed and the job allows it, a combination
the compiled kernel implements (bot.kernel.support) is scored by `bot.kernel.run.Kernel`
instead, which gives the same trades and figures many times faster
(tests/test_kernel.py); any other one still runs through the engine, and its
`ComboResult.engine` says why, so the sweep's summary can tell how each was scored.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.data.series import BarSeries
from bot.engine.backtest import build_engine
from bot.indicators import ATR
from bot.kernel import missing
from bot.kernel.support import unsupported
from bot.models import Bar, Signal, Trade
from bot.settings import Settings
from bot.strategy import StrategyConfig
from bot.sweep.combo import SectionCache
from bot.sweep.metrics import Row, run_metrics
from bot.sweep.params import Value
from strategies import build_strategy

if TYPE_CHECKING:
    from bot.kernel.run import Kernel

Span = tuple[int, int]
Trace = tuple[np.ndarray, np.ndarray, list[Trade]]  # equity, position, closed trades
_NONE: tuple[Signal, ...] = ()
_SIGNAL_CACHE = 256  # strategy configs kept per worker (a few signals each)


@dataclass(frozen=True)
class SweepJob:
    """What every worker needs, sent once per worker (not once per combination)."""

    series: BarSeries
    symbol: str
    sections: dict[str, dict[str, Any]]  # base [strategy], [risk], [broker] as plain data
    names: tuple[str, ...]
    runs: tuple[Span, ...]
    token: str  # identifies the job (workers cache their Evaluator under it)
    # Score with the compiled kernel where it can (bot.kernel); False: the engine for all.
    kernel: bool = True


@dataclass(frozen=True)
class ComboResult:
    index: int
    values: tuple[Value, ...]
    rows: list[Row]  # one per job run, in job order
    engine: str = ""  # why the engine scored it, not the kernel ("" : the kernel did)


class ReplayStrategy:
    """A signal source that returns signals recorded from the real strategy, by bar time
    (the recorded signals already went through the real strategy's warm-up)."""

    def __init__(self, by_ts: dict[int, tuple[Signal, ...]], id_prefix: str) -> None:
        self._get = by_ts.get
        self.id_prefix = id_prefix

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        return self._get(bar.ts, _NONE)


@dataclass(frozen=True)
class Recorded:
    """A strategy's signals over the bars: by bar time, and the bar positions that have any."""

    by_ts: dict[int, tuple[Signal, ...]]
    at: list[int]  # ascending
    id_prefix: str  # the strategy's, for the order ids the engine builds itself


class Evaluator:
    """One per worker process: the bars as `Bar` objects, signal and ATR caches.

    `skip_idle`: while the engine is idle (no open order at the broker, no protective
    stop to trail, no exit owed), a bar without a signal changes nothing but the ATR and
    the equity, cash + position x close. Such stretches, flat or holding, up to the next
    recorded signal, go through `Engine.skip` (equity and position filled in with numpy,
    the ATR set to its recorded state after the stretch). Off, every bar goes through
    `Engine.step`; tests check both agree with `run_backtest`.
    """

    def __init__(self, job: SweepJob, skip_idle: bool = True) -> None:
        self.job = job
        self.skip_idle = skip_idle
        self.stop = max(stop for _, stop in job.runs)
        self._bars: list[Bar] | None = None
        self.ppy = job.series.timeframe.periods_per_year
        self._signals: OrderedDict[str, Recorded] = OrderedDict()
        self._atr: dict[int, list[tuple[Any, ...]]] = {}
        self._sections = SectionCache(job)
        # The compiled kernel, if the job asks for it and numba is here (else why not).
        self.kernel: Kernel | None = None
        self.no_kernel = "the sweep was run with --engine" if not job.kernel else missing()
        if self.no_kernel is None:
            from bot.kernel.run import Kernel  # numba compiles or loads its cache here

            self.kernel = Kernel(job.series)

    @property
    def bars(self) -> list[Bar]:
        """The bars as `Bar` objects, built once per worker when the engine first needs
        them (bars past the last span are never read)."""
        if self._bars is None:
            self._bars = list(self.job.series.iter_bars(0, self.stop))
        return self._bars

    def evaluate(self, index: int, values: Sequence[Value]) -> ComboResult:
        settings = self._sections.settings(values)
        why = self.no_kernel or unsupported(settings)
        if why is None and self.kernel is not None:
            return ComboResult(index, tuple(values), self.kernel.rows(settings, self.job.runs))
        signals = self.signals(settings.strategy)
        rows = [self.run(settings, signals, start, stop) for start, stop in self.job.runs]
        return ComboResult(index, tuple(values), rows, engine=why or "")

    def signals(self, cfg: StrategyConfig) -> Recorded:
        key = cfg.model_dump_json()
        found = self._signals.get(key)
        if found is not None:
            self._signals.move_to_end(key)
            return found
        strategy = build_strategy(cfg)
        on_bar = strategy.on_bar
        by_ts: dict[int, tuple[Signal, ...]] = {}
        at: list[int] = []
        for i, bar in enumerate(self.bars):
            sigs = on_bar(bar)
            if sigs:
                by_ts[bar.ts] = tuple(sigs)
                at.append(i)
        rec = self._signals[key] = Recorded(by_ts, at, strategy.id_prefix)
        if len(self._signals) > _SIGNAL_CACHE:
            self._signals.popitem(last=False)
        return rec

    def atr_states(self, period: int) -> list[tuple[Any, ...]]:
        """The ATR's slot values after each bar, from the same updates `run_backtest`
        makes (warm-up and traded bars alike); one pass per ATR period per worker."""
        states = self._atr.get(period)
        if states is None:
            atr = ATR(period)
            update = atr.update
            states = []
            for bar in self.bars:
                update(bar.high, bar.low, bar.close)
                states.append(atr.state())
            self._atr[period] = states
        return states

    def run(self, settings: Settings, signals: Recorded, start: int, stop: int) -> Row:
        """The metrics of one span."""
        equity, position, trades = self.simulate(settings, signals, start, stop)
        s = self.job.series
        cash = settings.broker.initial_cash
        ts, close = s.ts[start:stop], s.close[start:stop]
        return run_metrics(equity, position, ts, close, trades, self.ppy, cash)

    def trace(self, values: Sequence[Value], start: int, stop: int) -> Trace:
        """Equity, position and trades of one combination on one span (for tests)."""
        settings = self._sections.settings(values)
        return self.simulate(settings, self.signals(settings.strategy), start, stop)

    def simulate(self, settings: Settings, signals: Recorded, start: int, stop: int) -> Trace:
        """One span, as `run_backtest(settings, series, start, stop)` trades it."""
        # The engine of `bot backtest`, with the recorded signals replayed.
        engine = build_engine(settings, strategy=ReplayStrategy(signals.by_ts, signals.id_prefix))
        states = self.atr_states(settings.risk.atr_period)
        if start > 0:
            engine.risk.atr.restore(states[start - 1])  # the warm-up over bars [0, start)
        step, idle, skip = engine.step, engine.idle, engine.skip
        bars, at, skip_idle = self.bars, signals.at, self.skip_idle
        closes = self.job.series.close
        i = start
        while i < stop:
            if skip_idle and idle():
                k = bisect_left(at, i)
                nxt = min(at[k], stop) if k < len(at) else stop
                if nxt > i:
                    skip(closes[i:nxt], bars[nxt - 1], states[nxt - 1])
                    i = nxt
                    continue
            step(bars[i])
            i += 1
        equity, position = engine.record.curves()
        return equity, position, engine.portfolio.trades


# One Evaluator per worker process, keyed by job token: a pool worker or a Dask worker
# receives the job once and keeps the Bar list and caches for every chunk it scores.
_EVALUATORS: dict[str, Evaluator] = {}


def evaluator_for(job: SweepJob) -> Evaluator:
    ev = _EVALUATORS.get(job.token)
    if ev is None or ev.job.kernel != job.kernel:
        _EVALUATORS.clear()  # one sweep at a time per process
        ev = _EVALUATORS[job.token] = Evaluator(job)
    return ev


Chunk = Sequence[tuple[int, tuple[Value, ...]]]


def evaluate_chunk(job: SweepJob, chunk: Chunk) -> list[ComboResult]:
    """Score a chunk of (index, values) pairs: the unit of work sent to a pool or Dask
    worker (a pool worker's initializer already built the Evaluator: a lookup here)."""
    ev = evaluator_for(job)
    return [ev.evaluate(i, values) for i, values in chunk]
