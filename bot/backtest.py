"""Backtest wiring: CSV bars -> Engine(SimBroker) -> result with equity curve.

Bars before `start` warm the strategy and ATR up without trading (a long indicator
window needs a year); trading runs on bars [start, stop). Only the wiring lives here: the
loop is `bot.engine.Engine`, the same one the paper runner drives.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.broker import SimBroker
from bot.data import BarSeries
from bot.engine import Engine, EngineRecord, EventSink, no_events
from bot.models import ET, Trade
from bot.risk import RiskManager
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


def build_risk(settings: Settings) -> RiskManager:
    return RiskManager(settings.risk, settings.broker, settings.symbol)


def build_engine(
    settings: Settings, events: EventSink = no_events, strategy: SignalSource | None = None
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
    events: EventSink = no_events,
    progress: Progress | None = None,
) -> BacktestResult:
    stop = len(series) if stop is None else stop
    engine = build_engine(settings, events)
    for bar in series.iter_bars(0, start):
        engine.warm_up(bar)
    n = stop - start
    # array('d') appends are cheaper than numpy item assignment in a Python loop.
    equity: array[float] = array("d")
    position: array[float] = array("d")
    eq_append, pos_append = equity.append, position.append
    port = engine.portfolio
    on_bar = engine.on_bar
    step = max(n // 100, 1)
    for i, bar in enumerate(series.iter_bars(start, stop)):
        on_bar(bar)
        q = port.qty
        eq_append(port.cash + q * bar.close)
        pos_append(q)
        if progress is not None and i % step == 0:
            progress(i)
    if progress is not None:
        progress(n)
    return BacktestResult(
        settings,
        series.slice(start, stop),
        np.frombuffer(equity, dtype="float64"),
        np.frombuffer(position, dtype="float64"),
        engine.record,
        port.trades,
        settings.broker.initial_cash,
        start,
        series,
    )
