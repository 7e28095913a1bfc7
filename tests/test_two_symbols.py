"""One engine per symbol over one account (issue 13 item 5): BABA's bars and a second
symbol's (BABA's at half the price and twice the volume) stepped bar by bar through two
engines that share one SimBroker (one cash balance, one order book), one event publisher
and one state file. Each engine's trades, fills, events and state rows are its own
symbol's and equal a run of that symbol alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import events as ev
from bot.broker.shared import SymbolBroker
from bot.broker.sim import BrokerError, SimBroker
from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.engine.backtest import BacktestResult, build_risk, run_backtest
from bot.engine.core import Engine
from bot.events.outputs import StateSink
from bot.events.sinks import Publisher, Recorder
from bot.models import OrderIntent, Side
from bot.settings import Settings
from bot.store.state import StateStore
from strategies import build_strategy
from tests.conftest import DEFAULT_TOML

SYMBOLS = ("BABA", "HALF")


def settings_for(symbol: str) -> Settings:
    return load_settings(DEFAULT_TOML, {"symbol": symbol})


def half_price(s: BarSeries) -> BarSeries:
    return BarSeries(s.ts, s.open / 2, s.high / 2, s.low / 2, s.close / 2, s.volume * 2,
                     s.session, s.timeframe, "synthetic", "HALF")  # fmt: skip


def alone(symbol: str, series: BarSeries) -> tuple[list[ev.Event], BacktestResult]:
    """A run of this symbol alone, computed separately: its symbol events and result."""
    rec = Recorder()
    result = run_backtest(settings_for(symbol), series, events=Publisher([rec]))
    return [e for e in rec.events if isinstance(e, ev.SymbolEvent)], result


def test_two_engines_over_one_account_never_mix(daily_series: BarSeries, tmp_path: Path) -> None:
    series = {"BABA": daily_series, "HALF": half_price(daily_series)}
    assert daily_series.symbol == "BABA"
    cfg = settings_for("BABA").broker
    cash = cfg.initial_cash
    # One account with room for both: each engine sizes from its own cash, as alone.
    sim = SimBroker(cfg.model_copy(update={"initial_cash": 2 * cash}))
    rec = Recorder()
    path = tmp_path / "state.sqlite"
    shared = StateStore(path)  # the signal rows of both, each under its event's symbol
    events = Publisher([rec, StateSink(shared)])
    stores = {sym: StateStore(path, sym) for sym in SYMBOLS}
    engines: dict[str, Engine] = {}
    for sym in SYMBOLS:
        s = settings_for(sym)
        engines[sym] = Engine(build_strategy(s.strategy), build_risk(s), SymbolBroker(sim, sym),
                              cash, events=events, trailing=s.risk.trailing_stop)  # fmt: skip
    bars = {sym: list(series[sym].iter_bars()) for sym in SYMBOLS}
    for i in range(len(daily_series)):
        for sym in SYMBOLS:  # the two symbols' bars of one day, one after the other
            step = engines[sym].step(bars[sym][i])
            store = stores[sym]
            for intent in step.intents:
                store.record_intent(intent)
            for f in step.fills:
                store.add_fill(f"{f.client_order_id}:{f.qty:g}", f)
            store.add_bar_result(step.bar, step.equity, step.cash, step.position)

    for sym in SYMBOLS:
        engine, store = engines[sym], stores[sym]
        own_events, result = alone(sym, series[sym])
        trades = engine.portfolio.trades
        assert trades, f"{sym} never traded: the test would show nothing"
        assert trades == result.trades
        assert {t.symbol for t in trades} == {sym}
        assert {f.symbol for f in engine.record.fills} == {sym}
        assert {i.symbol for i in engine.record.intents} == {sym}
        assert {s.symbol for s in engine.record.signals} == {sym}
        mine = [e for e in rec.events if isinstance(e, ev.SymbolEvent) and e.symbol == sym]
        assert mine == own_events
        # The broker's position of the symbol is the engine's, whatever the other holds.
        assert engine.broker.position_qty() == engine.portfolio.qty
        # Its state rows, and only its rows.
        assert store.fills() == list(engine.record.fills)
        assert [o.client_order_id for o in store.orders()] == [
            i.client_order_id for i in engine.record.intents
        ]
        assert {o.symbol for o in store.orders()} == {sym}
        assert {b.symbol for b in store.bars()} == {sym} and len(store.bars()) == len(bars[sym])
        assert [r[1] for r in store.equity_rows()] == pytest.approx(list(result.equity))
        assert [x["symbol"] for x in store.signals()] == [sym] * len(engine.record.signals)
    # Every symbol event said whose it was; the one account's cash is both engines' cash.
    assert {e.symbol for e in rec.events if isinstance(e, ev.SymbolEvent)} == set(SYMBOLS)
    spent = sum(e.portfolio.cash - cash for e in engines.values())
    assert sim.account.cash == pytest.approx(2 * cash + spent)
    assert len(shared.signals()) == sum(len(e.record.signals) for e in engines.values())


def test_a_symbols_broker_refuses_another_symbols_order(daily_series: BarSeries) -> None:
    sim = SimBroker(settings_for("BABA").broker)
    half = SymbolBroker(sim, "HALF")
    bar = next(daily_series.iter_bars())
    with pytest.raises(BrokerError, match="order for BABA sent to HALF's broker"):
        half.submit(OrderIntent("lb-BABA-x-buy", "BABA", Side.BUY, 1.0), bar)
    assert sim.orders == {}
