"""Backtest wiring: CSV bars -> Engine(SimBroker) -> result with equity curve.

Bars before `start` warm the strategy and ATR up without trading (a long indicator
window needs a year); trading runs on bars [start, stop). Only the wiring lives here: each
bar goes through `Engine.step` (here `Engine.run`, the same step without a result per
bar), the step the paper runner and the sweep drive too, which also marks the equity curve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot import events as ev
from bot.broker.sim import SimBroker
from bot.data.series import BarSeries
from bot.engine.core import Engine, EngineRecord
from bot.engine.risk import RiskManager
from bot.events.journal import Journal
from bot.events.outputs import JOURNAL_QUEUE, JournalSink
from bot.events.sinks import Publisher, QueuedSink
from bot.models import ET, Trade
from bot.settings import Settings
from bot.strategy import SignalSource
from strategies import build_strategy

Progress = Callable[[int], None]


@dataclass
class BacktestResult:
    settings: Settings
    bars: BarSeries  # the traded range [start, stop)
    equity: np.ndarray  # equity at each traded bar's close
    position: np.ndarray  # signed shares held at each close
    record: EngineRecord
    trades: list[Trade]
    initial_cash: float
    warmup_bars: int  # bars of `source` before the traded range
    source: BarSeries  # the whole series (warm-up included), for charts

    @property
    def periods_per_year(self) -> float:
        """Bars per year for annualising (`Timeframe.periods_per_year`)."""
        return self.bars.timeframe.periods_per_year

    def equity_frame(self) -> pd.DataFrame:
        idx = pd.DatetimeIndex(pd.to_datetime(self.bars.ts, utc=True)).tz_convert(ET)
        return pd.DataFrame(
            {"equity": self.equity, "position": self.position, "close": self.bars.close},
            index=idx.rename("time"),
        )


def run_folder_events(folder: Path) -> Publisher:
    """`bot backtest`'s sinks: the journal, in `events.jsonl` of its run folder (written
    anew, like the folder's other files), never in logs/, so `bot logs` keeps showing the
    paper runs."""
    path = Path(folder) / "events.jsonl"
    path.unlink(missing_ok=True)
    return Publisher([QueuedSink(JournalSink(Journal(path)), JOURNAL_QUEUE)])


def build_risk(settings: Settings) -> RiskManager:
    return RiskManager(settings.risk, settings.broker, settings.symbol)


def build_engine(
    settings: Settings, events: Publisher | None = None, strategy: SignalSource | None = None
) -> Engine:
    """The engine with a simulated broker, as `bot backtest` uses it (`strategy`: another
    object with the same signals, e.g. the sweep's replay of recorded ones)."""
    risk = build_risk(settings)
    broker = SimBroker(settings.broker, allow_short=settings.risk.allow_short)
    return Engine(
        strategy or build_strategy(settings.strategy),
        risk,
        broker,
        settings.broker.initial_cash,
        events=events,
        trailing=settings.risk.trailing_stop,
    )


def run_backtest(
    settings: Settings,
    series: BarSeries,
    start: int = 0,
    stop: int | None = None,
    events: Publisher | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """`events` get what a paper run's engine publishes (no `bar` events: the equity
    curve has every bar), between a run start and a run end."""
    stop = len(series) if stop is None else stop
    events = events if events is not None else Publisher()
    engine = build_engine(settings, events)
    hashed = ev.config_hash(settings) if events.sinks else ""  # a settings dump: only if heard
    events.publish(ev.RunStart(config_hash=hashed, broker="sim", symbol=settings.symbol))
    for bar in series.iter_bars(0, start):
        engine.warm_up(bar)
    n = stop - start
    if progress is None:
        engine.run(series.iter_bars(start, stop))
    else:
        every = max(n // 100, 1)
        for lo in range(start, stop, every):
            progress(lo - start)
            engine.run(series.iter_bars(lo, min(lo + every, stop)))
        progress(n)
    record = engine.record
    equity_curve, position = record.curves()
    equity = float(equity_curve[-1]) if n > 0 else settings.broker.initial_cash
    qty = engine.portfolio.qty
    events.publish(ev.RunEnd(bars=n, position=qty, equity=round(equity, 2), stopped=False))
    return BacktestResult(
        settings,
        series.slice(start, stop),
        equity_curve,
        position,
        record,
        engine.portfolio.trades,
        settings.broker.initial_cash,
        start,
        series,
    )
