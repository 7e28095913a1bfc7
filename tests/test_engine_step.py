"""`Engine.step` returns what one bar did, on the hand-computed series of
tests/test_engine_trades.py (level 100, 10 shares, no slippage): b1's close 100.5 breaks
out (a signal and a buy intent), b2 fills the buy at its open 101 and marks the equity at
its close 103. `run` and `skip` (the sweep's idle stretches) leave the same record.
"""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from bot.engine.backtest import build_engine
from bot.engine.record import EngineRecord, StepResult
from bot.models import Fill, Side
from tests.test_engine_trades import OHLC, bars, settings


def test_a_breakout_bar_gives_a_signal_and_an_intent_the_next_bar_the_fill() -> None:
    engine = build_engine(settings())
    b = bars(OHLC)
    r0, r1, r2 = (engine.step(bar) for bar in b[:3])
    assert isinstance(r1, StepResult) and r1.bar is b[1]
    assert (r0.signals, r0.intents, r0.fills, r0.rejections) == ((), (), (), ())
    (sig,) = r1.signals
    assert (sig.kind, sig.tag) == ("breakout", "resistance_100")
    (buy,) = r1.intents
    assert (buy.side, buy.qty, buy.purpose, buy.signal_ts) == (Side.BUY, 10, "entry", b[1].ts)
    assert r1.fills == () and (r1.cash, r1.position, r1.equity) == (10_000.0, 0.0, 10_000.0)
    assert r2.signals == () and r2.intents == ()
    fill = Fill(buy.client_order_id, Side.BUY, 10, 101.0, b[2].ts, 0.0, "entry", buy.symbol)
    assert r2.fills == (fill,) and fill.symbol == "BABA"
    # cash 10,000 - 10 x 101 = 8,990; equity 8,990 + 10 x 103 (b2's close) = 10,020
    assert (r2.cash, r2.position, r2.equity) == (8_990.0, 10.0, 10_020.0)
    assert len(r1.intents) == 1 and r1.fills == ()  # a result never changes afterwards


def test_the_exit_and_the_trade_show_in_their_steps() -> None:
    engine = build_engine(settings())
    results = [engine.step(bar) for bar in bars(OHLC)]
    (sell,) = results[5].intents  # b5 breaks down
    assert (sell.side, sell.purpose) == (Side.SELL, "exit")
    (fill,) = results[6].fills  # sold at b6's open, 98.5
    assert (fill.price, results[6].position, results[6].equity) == (98.5, 0.0, 9_975.0)
    assert [r.equity for r in results] == list(engine.record.equity)


def test_a_refusal_shows_in_its_step() -> None:
    engine = build_engine(settings(sizing="fixed_notional", fixed_notional=50.0))
    results = [engine.step(bar) for bar in bars(OHLC)]  # 50 USD buys less than a share
    (rej,) = results[1].rejections
    assert rej.reason == "size rounds to 0 shares (limited by sizing)"
    assert results[1].intents == () and results[2].rejections == ()


def test_run_leaves_the_record_that_stepping_leaves() -> None:
    stepped, ran = build_engine(settings()), build_engine(settings())
    for bar in bars(OHLC):
        stepped.step(bar)
    ran.run(bars(OHLC))
    a, b = stepped.record, ran.record
    assert (a.signals, a.intents, a.fills) == (b.signals, b.intents, b.fills)
    assert a.rejections == b.rejections
    assert (list(a.equity), list(a.position)) == (list(b.equity), list(b.position))
    assert stepped.portfolio.trades == ran.portfolio.trades


def test_skip_marks_idle_bars_as_step_does() -> None:
    """Holding 10 shares without a stop after b2, no order working: the engine is idle;
    skipping b3 and b4 (no signal) leaves the equity, position and ATR stepping leaves."""
    b = bars(OHLC)
    stepped, skipped = build_engine(settings()), build_engine(settings())
    assert stepped.idle()
    for bar in b[:2]:
        stepped.step(bar)
        skipped.step(bar)
    assert not stepped.idle()  # the buy is working at the broker
    stepped.step(b[2])
    skipped.step(b[2])
    assert stepped.idle() and skipped.idle()
    for bar in b[3:5]:
        stepped.step(bar)
    closes = np.array([bar.close for bar in b[3:5]])
    skipped.skip(closes, b[4], stepped.risk.atr.state())
    assert list(skipped.record.equity) == list(stepped.record.equity)
    assert list(skipped.record.position) == list(stepped.record.position)
    assert skipped.last_bar is b[4]
    assert skipped.risk.atr.value == pytest.approx(stepped.risk.atr.value)
    for bar in b[5:]:
        stepped.step(bar)
        skipped.step(bar)
    assert skipped.portfolio.trades == stepped.portfolio.trades


def test_the_curves_hold_each_account_until_the_next_one() -> None:
    """The account changes only with a fill: (first bar, cash, position) entries; two on
    one bar (an exit and an entry filled at its close) leave the last one for that bar."""
    record = EngineRecord(closes=array("d", [10.0, 11.0, 12.0, 13.0, 14.0]))
    record.accounts += [(0, 1_000.0, 0.0), (2, 890.0, 10.0), (2, 760.0, 20.0), (3, 1_020.0, 0.0)]
    equity, position = record.curves()
    assert list(position) == [0.0, 0.0, 20.0, 0.0, 0.0]
    assert list(equity) == [1_000.0, 1_000.0, 760.0 + 20 * 12.0, 1_020.0, 1_020.0]
    assert list(record.equity) == list(equity) and len(EngineRecord().curves()[0]) == 0
