"""The paper runner in-process, on a recording fake broker (tests/fakebroker.py): scenarios
that otherwise need the emulator, with every broker call checked.

Rules: level 100, one confirming close, no buffers, no volume rule, 10 shares, no
slippage, so a close above 100 is a breakout (buy at the next open) and a close below
100 a breakdown (sell at the next open). Bars are built with open = close, so a fill at
the next open is at the next bar's close value. Expected orders are read off the closes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import events as ev
from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.events.sinks import Recorder
from bot.live.feeds import ReplayFeed
from bot.live.reconcile import ReconcileError
from bot.live.runner import PaperRunner, RunSummary
from bot.models import Bar
from bot.settings import Settings
from bot.store.halts import Halt, save_halt
from bot.store.state import StateStore
from tests.conftest import make_bars, make_minute_bars
from tests.fakebroker import FakeBroker

# 2024-01-02 .. 2024-01-12, nine weekdays, all sessions (MLK day is the 15th)
DAILY = [95.0, 96.0, 101.0, 103.0, 104.0, 99.0, 98.0, 102.0, 103.0]
BUY, SELL = "lb-BABA-r100-20240104T0000-buy", "lb-BABA-r100-20240109T0000-sell"


def settings(tmp: Path, **paper: Any) -> Settings:
    s = load_settings(
        None,
        {
            "strategy": {
                "levels": [100.0],
                "use_52w_peak": False,
                "confirm_closes": 1,
                "breakout_buffer_pct": 0.0,
                "breakdown_buffer_pct": 0.0,
                "volume_multiple": 0.0,
            },
            "risk": {"sizing": "fixed_shares", "fixed_shares": 10, "stop_loss": False},
            "broker": {"slippage_bps": 0.0, "initial_cash": 10_000.0},
            "paper": {
                "state_dir": str(tmp / "state"),
                "log_dir": str(tmp / "logs"),
                "halt_file": str(tmp / "state" / "HALT"),
                **paper,
            },
        },
    )
    s.paper.replay_from = None  # trade from the first bar
    return s


def series_of(bars: list[Bar], timeframe: str) -> BarSeries:
    ts, o, h, lo, c, v, sess = (list(col) for col in zip(*(b[:7] for b in bars), strict=True))
    f = np.array
    return BarSeries(f(ts, dtype="int64"), f(o), f(h), f(lo), f(c), f(v),
                     f(sess, dtype="int64"), timeframe, "test")  # fmt: skip


class FakeFeed(ReplayFeed):
    """A replay on the fake broker's clock: before each bar, the test's hook for it runs,
    then the clock moves to the bar's close (as the emulator's clock is moved)."""

    def __init__(self, series: BarSeries, broker: FakeBroker, hooks: dict[int, Any]) -> None:
        super().__init__(series)
        self.broker, self.hooks = broker, dict(hooks)

    def before_bar(self, bar: Bar) -> None:
        hook = self.hooks.pop(bar.ts, None)
        if hook is not None:
            hook()
        self.broker.now_ns = self.bar_end(bar)


def run(
    s: Settings,
    fake: FakeBroker,
    bars: list[Bar],
    hooks: dict[int, Any] | None = None,
    adopt: bool = False,
    timeframe: str = "1d",
) -> tuple[RunSummary, list[ev.Event]]:
    seen = Recorder()
    feed = FakeFeed(series_of(bars, timeframe), fake, hooks or {})
    runner = PaperRunner(s, None, feed, "fake", adopt=adopt, sleep=lambda _: None,
                         sinks=[seen], broker=lambda store, events, retrier: fake)  # fmt: skip
    return runner.run(), seen.events


def of(events: list[ev.Event], kind: type[ev.Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def refusals(events: list[ev.Event]) -> list[str]:
    return [e.reason for e in of(events, ev.RiskRejected)]


def test_kill_switch_blocks_entries_but_lets_the_exit_out(tmp_path: Path) -> None:
    """The halt file appears while 10 shares are held (seen from 01-09 on): the breakdown
    of 01-09 still sells them; the breakout of 01-11 is refused, naming the halt file."""
    s = settings(tmp_path)
    fake = FakeBroker(s.broker)
    bars = make_bars(DAILY)
    halt_file = tmp_path / "state" / "HALT"
    summary, events = run(s, fake, bars, {bars[4].ts: lambda: halt_file.write_text("")})
    assert [(i.client_order_id, i.purpose) for i in fake.submitted()] == [
        (BUY, "entry"),
        (SELL, "exit"),
    ]
    assert [h.reason for h in of(events, ev.Halt)] == [f"halt file {halt_file} exists"]
    assert refusals(events) == [f"halted: halt file {halt_file} exists"]
    assert of(events, ev.RiskRejected)[0].what == "breakout resistance_100"
    assert summary.position == 0 and summary.halted == f"halt file {halt_file} exists"
    assert fake.called("cancel") == []  # no entry was working when the halt came


def test_kill_switch_with_flatten_closes_the_position_at_once(tmp_path: Path) -> None:
    """`bot halt --flatten` while 10 shares are held (seen at the start of 01-09): they are
    sold at market for the bar before, at the 01-09 open, once; nothing is bought again."""
    s = settings(tmp_path)
    fake = FakeBroker(s.broker)
    bars = make_bars(DAILY)

    def halt() -> None:
        store = StateStore(tmp_path / "state" / "state.sqlite")
        save_halt(store, Halt("halted by the test", flatten=True))
        store.close()

    summary, events = run(s, fake, bars, {bars[4].ts: halt})
    assert [i.purpose for i in fake.submitted()] == ["entry", "flatten"]
    flat = fake.submitted()[1]
    assert flat.qty == 10 and flat.signal_ts == bars[4].ts  # the bar the halt was seen after
    assert flat.reason == "flatten on halt: halted by the test"
    assert summary.position == 0 and summary.halted == "halted by the test"
    assert refusals(events) == [
        "long-only: a breakdown while flat opens nothing",  # 01-09: sold at its open already
        "halted: halted by the test",  # the 01-11 breakout
    ]


def test_restart_reconciles_through_the_engine(tmp_path: Path) -> None:
    """The bot stops after 01-08 holding 10 shares; the next start rebuilds the position
    from the recorded fills, reconciles it with the broker (local 10 = broker 10) and
    sells at the breakdown of 01-09."""
    s = settings(tmp_path)
    fake = FakeBroker(s.broker)
    bars = make_bars(DAILY)
    first, _ = run(s, fake, bars[:5])
    assert first.position == 10
    second, events = run(s, fake, bars)
    assert fake.called("reconcile") == [(0.0, 0, False), (10.0, bars[4].ts, False)]
    (rec,) = of(events, ev.Reconcile)
    assert (rec.broker_qty, rec.local_qty) == (10.0, 10.0)
    assert [w.bars for w in of(events, ev.WarmUp)] == [5]
    sells = [i for i in fake.submitted() if i.purpose == "exit"]
    assert [(i.client_order_id, i.qty) for i in sells] == [(SELL, 10)]
    assert second.bars == 4 and second.position == 10  # bought again at the 01-11 breakout


def test_restart_refuses_a_position_changed_by_hand_unless_adopted(tmp_path: Path) -> None:
    """5 shares bought by hand while the bot was down: the start stops (ReconcileError)
    before trading; with --adopt the engine takes 15 shares and the exit sells 15."""
    s = settings(tmp_path)
    fake = FakeBroker(s.broker)
    bars = make_bars(DAILY)
    run(s, fake, bars[:5])
    fake.trade_by_hand(5, 104.0)
    with pytest.raises(ReconcileError, match="holds 15"):
        run(s, fake, bars)
    assert fake.submitted()[-1].purpose == "entry"  # nothing was sent
    _, events = run(s, fake, bars, adopt=True)
    (rec,) = of(events, ev.Reconcile)
    assert (rec.broker_qty, rec.local_qty) == (15.0, 15.0)
    sells = [i for i in fake.submitted() if i.purpose == "exit"]
    assert [(i.client_order_id, i.qty) for i in sells] == [(SELL, 15)]


MINUTE_DAY = date(2024, 1, 3)
# 09:30 .. 09:38: breakout 09:32, bought at 105 (09:33), 09:34 closes 40 USD lower (0.4% of
# 10,000), breakdown 09:35 (sold at 98.5, 09:36), breakout 09:37.
MINUTES = [99.0, 99.5, 100.5, 105.0, 101.0, 99.0, 98.5, 101.0, 101.5]


def minute_bars() -> list[Bar]:
    return make_minute_bars([(MINUTE_DAY, MINUTES, MINUTES)])


def test_loss_halt_blocks_entries_for_the_session_and_survives_a_restart(tmp_path: Path) -> None:
    """max_daily_loss_pct 0.3: the 09:34 close halts; the breakdown exit still goes out, the
    09:37 breakout is refused. A restart after 09:35 (the sell working) stays halted."""
    bars = minute_bars()
    for name, stops in (("whole", []), ("restarted", [6])):
        s = settings(tmp_path / name, max_daily_loss_pct=0.3)
        fake = FakeBroker(s.broker)
        events: list[ev.Event] = []
        for stop in [*stops, len(bars)]:
            summary, part = run(s, fake, bars[:stop], timeframe="1m")
            events += part
        assert [i.purpose for i in fake.submitted()] == ["entry", "exit"], name
        (halt,) = [g.reason for g in of(events, ev.Guard)]
        assert halt.startswith("daily loss 0.40% exceeds max_daily_loss_pct 0.3%"), name
        assert refusals(events) == [f"halted: {halt}"], name
        assert summary.position == 0, name


def test_an_exit_sent_again_after_a_refusal_counts_once(tmp_path: Path) -> None:
    """max_orders_per_day 2: the buy (1) and the sell, refused at 09:34 and sent again with
    the same id at 09:35 (2): the 09:37 breakout is refused with 2 orders sent, not 3."""
    closes = [99.0, 99.5, 100.5, 101.0, 99.0, 98.5, 98.0, 100.6, 101.0]
    bars = make_minute_bars([(MINUTE_DAY, closes, closes)])
    s = settings(tmp_path, max_orders_per_day=2, max_daily_loss_pct=0.0)
    fake = FakeBroker(s.broker)
    fake.refuse_next("exit")
    summary, events = run(s, fake, bars, timeframe="1m")
    sent = [i.client_order_id for i in fake.submitted()]
    assert sent == [sent[0], sent[1], sent[1]] and sent[1].endswith("T0934-sell")
    (error,) = of(events, ev.Error)
    assert error.error.startswith(f"exit {sent[1]} could not be placed")
    (guard,) = of(events, ev.Guard)
    assert guard.reason == "max_orders_per_day 2 reached (2 sent)"
    assert guard.client_order_id.endswith("T0937-buy")
    assert summary.position == 0
