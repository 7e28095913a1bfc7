"""A portfolio backtest: one engine per watched symbol over one shared account, stepped
in time order.

The bars of every symbol are merged by time; bars of one time (the same session's daily
bars) are stepped in the watchlist's order, so a run is deterministic. Before any of
them is stepped, the account marks every symbol at its close of that time: a decision
at a close sees every close of that time (no look-ahead: they are simultaneous), while
a fill at that time's open is booked in its own symbol's step (a later symbol's fill is
not yet in the cash an earlier symbol sizes with). Each engine is built exactly as
a single-symbol backtest builds it (its strategy, its risk thresholds), with a
`SymbolBroker` over one `SimBroker` (one cash balance, one order book) and the
`SharedAccount` that gives sizing the account's cash and equity and refuses entries past
the portfolio limits.

A symbol's own curve is the account's initial cash plus what that symbol made (its cash
flows and its position at its close): its contribution. The portfolio's curve sums the
contributions at every time any symbol has a bar, each symbol's held at its last close
in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot import events as ev
from bot.broker.shared import SymbolBroker
from bot.broker.sim import SimBroker
from bot.data.series import BarSeries
from bot.engine.account import SharedAccount
from bot.engine.backtest import BacktestResult, build_risk
from bot.engine.core import Engine
from bot.engine.timeline import by_time
from bot.events.sinks import Publisher
from bot.models import ET
from bot.settings import Settings
from strategies import build_strategy

Progress = Callable[[int], None]


@dataclass
class PortfolioResult:
    settings: Settings
    symbols: list[str]
    results: dict[str, BacktestResult]  # each symbol's run, its curve its contribution
    times: np.ndarray  # int64 UTC ns: every time any symbol had a traded bar
    equity: np.ndarray  # the account's equity at each of those times
    gross: np.ndarray  # the value of all positions at each time (long + |short|)
    initial_cash: float
    periods_per_year: float

    def equity_frame(self) -> pd.DataFrame:
        idx = pd.DatetimeIndex(pd.to_datetime(self.times, utc=True)).tz_convert(ET)
        return pd.DataFrame({"equity": self.equity, "gross": self.gross}, index=idx)


def run_portfolio(
    settings: Settings,
    series: dict[str, BarSeries],
    spans: dict[str, tuple[int, int]],
    events: Publisher | None = None,
    progress: Progress | None = None,
) -> PortfolioResult:
    """`series`: each watched symbol's bars; `spans`: its traded range [start, stop)
    (bars before start warm up). `settings` are the config's (the watchlist's)."""
    events = events if events is not None else Publisher()
    cash = settings.broker.initial_cash
    sim = SimBroker(settings.broker, allow_short=settings.risk.allow_short)
    account = SharedAccount(cash, settings.portfolio)
    engines: dict[str, Engine] = {}
    mine: dict[str, Settings] = {}
    for sym in series:
        s = mine[sym] = settings.for_symbol(sym)
        engines[sym] = Engine(
            build_strategy(s.strategy),
            build_risk(s),
            SymbolBroker(sim, sym),
            0.0,  # its own cash flows; the account holds the cash (bot/engine/account.py)
            events=events,
            trailing=s.risk.trailing_stop,
            account=account,
        )
    hashed = ev.config_hash(settings) if events.sinks else ""
    events.publish(ev.RunStart(config_hash=hashed, broker="sim", symbol=",".join(series)))
    for sym, bars in series.items():
        for bar in bars.iter_bars(0, spans[sym][0]):
            engines[sym].warm_up(bar)
    total = sum(hi - lo for lo, hi in spans.values())
    every = max(total // 100, 1)
    done = 0
    streams = {sym: series[sym].iter_bars(*spans[sym]) for sym in series}
    for at_once in by_time(streams):
        for bar in at_once:  # every close of this time, before anyone decides on it
            account.mark(bar.symbol, bar.close)
        for bar in at_once:
            if progress is not None and done % every == 0:
                progress(done)
            engines[bar.symbol].step(bar)
            done += 1
    if progress is not None:
        progress(total)
    results = {
        sym: _symbol_result(mine[sym], series[sym], spans[sym], engines[sym], cash)
        for sym in series
    }
    times, equity, gross = _account_curve(results, cash)
    events.publish(
        ev.RunEnd(bars=total, position=None, equity=round(float(equity[-1]), 2), stopped=False)
    )
    ppy = max(r.periods_per_year for r in results.values())
    return PortfolioResult(settings, list(series), results, times, equity, gross, cash, ppy)


def _symbol_result(
    s: Settings, bars: BarSeries, span: tuple[int, int], engine: Engine, cash: float
) -> BacktestResult:
    contribution, position = engine.record.curves()
    lo, hi = span
    return BacktestResult(
        s,
        bars.slice(lo, hi),
        cash + contribution,
        position,
        engine.record,
        engine.portfolio.trades,
        cash,
        lo,
        bars,
    )


def _account_curve(
    results: dict[str, BacktestResult], cash: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, equity, gross exposure): each symbol's contribution and position value
    held from its bar until its next one (nothing before its first)."""
    times = np.unique(np.concatenate([r.bars.ts for r in results.values()]))
    equity = np.full(len(times), cash, dtype="float64")
    gross = np.zeros(len(times), dtype="float64")
    for r in results.values():
        at = np.searchsorted(r.bars.ts, times, side="right") - 1
        seen = at >= 0
        equity[seen] += r.equity[at[seen]] - cash
        gross[seen] += np.abs(r.position[at[seen]] * r.bars.close[at[seen]])
    return times, equity, gross
