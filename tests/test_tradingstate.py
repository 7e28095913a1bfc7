"""The trading state: active -> halted by the kill switch or the loss halt -> active again;
reducing (the engine's own safety stops) lets exits out and holds entries back; orders are
counted once per client order id, when submitted. The engine-level scenarios run on the
recording fake broker (tests/fakebroker.py)."""

from __future__ import annotations

from pathlib import Path

from bot.engine.backtest import build_risk
from bot.engine.core import Engine
from bot.engine.guards import Guards
from bot.engine.livestep import Live
from bot.engine.tradingstate import Halt, Mode, TradingState
from bot.models import Bar, OrderIntent, Side, ns_to_et, session_day
from strategies import build_strategy
from tests.conftest import make_bars
from tests.fakebroker import FakeBroker
from tests.test_runner_fake import DAILY, settings

DAY = 86_400 * 1_000_000_000


class Switch:
    """A kill switch the test flips (the runner's reads the halt file and the state)."""

    def __init__(self) -> None:
        self.halt: Halt | None = None

    def __call__(self) -> Halt | None:
        return self.halt


def test_kill_switch_halts_until_lifted_and_is_news_once() -> None:
    switch = Switch()
    t = TradingState(switch=switch)
    assert t.poll() is None and t.mode is Mode.ACTIVE and t.entry_block() is None
    switch.halt = Halt("halted by bot halt")
    assert t.poll() == Halt("halted by bot halt")  # news: announced
    assert t.mode is Mode.HALTED and t.entry_block() == "halted: halted by bot halt"
    assert t.poll() is None and t.mode is Mode.HALTED  # still halted, said once
    switch.halt = Halt("halt file state/HALT exists")
    assert t.poll() == switch.halt  # another reason is news again
    switch.halt = None  # bot resume
    assert t.poll() is None and t.mode is Mode.ACTIVE and t.entry_block() is None


def test_loss_halt_holds_the_session_and_the_next_sessions_first_bar() -> None:
    saved: list[tuple[int, str]] = []
    t = TradingState(loss_limit_pct=3.0, save_loss_halt=lambda s, why: saved.append((s, why)))
    t.poll()
    t.begin_bar(100, 10_000.0)
    assert t.end_bar(9_750.0) is None and t.mode is Mode.ACTIVE  # -2.5%: inside the limit
    why = t.end_bar(9_650.0)  # -3.5%
    assert why is not None and why.startswith("daily loss 3.50% exceeds max_daily_loss_pct 3%")
    assert t.mode is Mode.HALTED and saved == [(100, why)]
    assert t.end_bar(9_000.0) is None and len(saved) == 1  # halted once, saved once
    for session in (100, 101):  # later in the session, then the next session's first bar
        t.poll()
        t.begin_bar(session, 9_650.0)
        assert t.entry_block() == f"halted: {why}"
    t.poll()  # the second bar of session 101: a new loss count, nothing halted
    t.begin_bar(101, 9_650.0)
    assert t.mode is Mode.ACTIVE and t.session_start_equity == 9_650.0


def test_a_restart_in_the_session_keeps_its_loss_halt() -> None:
    t = TradingState(loss_limit_pct=3.0)
    t.resume_session(100, 10_000.0, "daily loss 3.50% ...")
    t.poll()
    t.begin_bar(100, 9_600.0)  # same session: its start equity and halt carry on
    assert t.entry_block() == "halted: daily loss 3.50% ..." and t.session_start_equity == 10_000


def test_reducing_holds_entries_back_and_a_halt_comes_first() -> None:
    switch = Switch()
    t = TradingState(switch=switch)
    t.mismatch = "position mismatch for BABA: the broker holds 0 shares"
    assert t.mode is Mode.REDUCING and t.entry_block() == t.mismatch
    switch.halt = Halt("halted by bot halt")
    t.poll()
    assert t.mode is Mode.HALTED and t.entry_block() == "halted: halted by bot halt"
    switch.halt, t.mismatch = None, None
    t.exit_failed = "exit x could not be placed; the position has no stop at the broker"
    t.poll()
    assert t.mode is Mode.REDUCING and t.entry_block() == t.exit_failed
    t.exit_failed = None
    assert t.mode is Mode.ACTIVE


def order(cid: str, ts: int) -> OrderIntent:
    return OrderIntent(cid, "BABA", Side.BUY, 10, purpose="entry", signal_ts=ts)


def test_orders_count_once_per_id_in_their_signal_session() -> None:
    bars = make_bars([100.0, 101.0])
    t = TradingState()
    t.begin_bar(bars[0].session, 10_000.0)
    t.count(order("a", bars[0].ts))
    t.count(order("a", bars[0].ts))  # sent again after a refusal: the same order
    t.count(order("b", bars[0].ts))
    assert t.orders_today() == 2
    t.begin_bar(bars[1].session, 10_000.0)  # a new session counts from 0
    assert t.orders_today() == 0
    t.count(order("c", bars[0].ts))  # an exit owed from yesterday's signal: yesterday's
    t.count(order("d", bars[1].ts))
    assert t.orders_today() == 1
    assert session_day(ns_to_et(bars[1].ts).date()) == t.session


class AtClose:
    """The clock of a daily run: each bar is decided at 16:00 ET of its day."""

    def at_bar(self, bar: Bar) -> tuple[int, bool | None]:
        return bar.ts + DAY - 8 * 3_600_000_000_000, None


def live_engine(tmp: Path, switch: Switch | None = None) -> tuple[Engine, FakeBroker]:
    s = settings(tmp)
    fake = FakeBroker(s.broker)
    guards = Guards(s.paper, DAY, lambda ts: True)
    live = Live(guards, AtClose(), TradingState(switch=switch), cancel_on_halt=True)
    engine = Engine(build_strategy(s.strategy), build_risk(s), fake, 10_000.0, live=live)
    return engine, fake


def test_reducing_lets_the_exit_out_capped_at_the_broker(tmp_path: Path) -> None:
    """4 of the 10 shares are sold by hand: the engine goes REDUCING (and stays: ours 4
    after the exit, the broker's 0); the breakdown still sells the 6 the broker holds."""
    engine, fake = live_engine(tmp_path)
    modes = []
    for k, bar in enumerate(make_bars(DAILY)):
        if k == 4:
            fake.trade_by_hand(-4, 104.0)
        engine.step(bar)
        modes.append(engine.trading.mode)
    assert modes[:4] == [Mode.ACTIVE] * 4 and modes[4:] == [Mode.REDUCING] * 5
    assert [(i.purpose, i.qty) for i in fake.submitted()] == [("entry", 10), ("exit", 6)]


def test_reducing_holds_a_new_entry_back(tmp_path: Path) -> None:
    """10 shares bought by hand while the bot is flat: the breakout of 01-04 is refused,
    naming both positions; nothing is sent."""
    engine, fake = live_engine(tmp_path)
    for k, bar in enumerate(make_bars(DAILY)[:4]):
        if k == 1:
            fake.trade_by_hand(10, 96.0)
        engine.step(bar)
    assert engine.trading.mode is Mode.REDUCING and fake.submitted() == []
    (refused,) = engine.record.rejections
    assert refused.what == "breakout resistance_100"
    assert refused.reason == (
        "position mismatch for BABA: the broker holds 10 shares, the bot's record says 0; "
        "new entries are halted"
    )


def test_a_halt_cancels_the_working_entry(tmp_path: Path) -> None:
    """The kill switch is set after the breakout of 01-04 sent a buy: at the next bar the
    buy is cancelled before it can fill (cancel_on_halt), and announced once."""
    switch = Switch()
    engine, fake = live_engine(tmp_path, switch)
    bars = make_bars(DAILY)
    for k, bar in enumerate(bars):
        if k == 3:
            switch.halt = Halt("halted by bot halt")
        engine.step(bar)
    (buy,) = fake.submitted()
    assert fake.called("cancel") == [(buy.client_order_id,)]
    assert engine.portfolio.qty == 0 and engine.record.fills == []
    assert engine.trading.mode is Mode.HALTED
    assert [r.reason for r in engine.record.rejections] == [
        "long-only: a breakdown while flat opens nothing",  # 01-09
        "halted: halted by bot halt",  # the breakout of 01-11
    ]
