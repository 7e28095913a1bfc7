"""Each guard refuses with a logged reason (scenarios 16, 18, 23, 24), as a pure function of
the order, its bar and the state it is given. The kill switch and the daily loss halt are
the trading state's (tests/test_tradingstate.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.broker.sim import SimBroker
from bot.config_load import load_settings
from bot.data.calendar import MarketCalendar
from bot.engine.backtest import build_risk
from bot.engine.core import Engine
from bot.engine.guards import Guards, GuardState
from bot.engine.livestep import Live
from bot.engine.tradingstate import TradingState
from bot.events.journal import Journal
from bot.events.outputs import JournalSink
from bot.events.sinks import Publisher
from bot.models import ET, Bar, OrderIntent, Side, et_to_ns, session_day
from bot.settings import Settings
from strategies import build_strategy

DAY = 86_400 * 1_000_000_000
MIN = 60_000_000_000


def daily(d: date, o: float, h: float, lo: float, c: float, v: float = 1000.0) -> Bar:
    return Bar(
        et_to_ns(datetime(d.year, d.month, d.day, tzinfo=ET)), o, h, lo, c, v, session_day(d)
    )


def settings(**paper: Any) -> Settings:
    return load_settings(
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
            "risk": {"sizing": "fixed_shares", "fixed_shares": 10},
            "broker": {"slippage_bps": 0.0, "initial_cash": 10_000.0},
            "paper": paper,
        },
    )


def intent(purpose: str = "entry") -> OrderIntent:
    return OrderIntent("id-1", "BABA", Side.BUY, 10, purpose=purpose)


def make_guards(s: Settings, interval: int = DAY) -> Guards:
    cal = MarketCalendar(date(2025, 12, 1), date(2026, 3, 1))
    return Guards(s.paper, interval, cal.is_open)


def at(now_ns: int, orders: int = 0, market_open: bool | None = None) -> GuardState:
    return GuardState(now_ns, market_open, orders)


def end_of(bar: Bar) -> int:
    return bar.ts + DAY - 8 * 3600 * 1_000_000_000  # 16:00 ET of a daily bar


BAR = daily(date(2026, 1, 13), 99, 101, 98, 100.5)


def test_guards_are_pure_functions_of_their_arguments() -> None:
    """The same order, bar and state give the same answer however often asked, and
    nothing is kept between calls: only the state given decides."""
    g = make_guards(settings(max_orders_per_day=2))
    before = (g.cfg.model_dump(), g.interval_ns, g.regular_hours)
    fresh, full = at(end_of(BAR), orders=1), at(end_of(BAR), orders=2)
    answers = [g.check(intent(), BAR, st) for st in (fresh, full, fresh, full, fresh)]
    assert answers[0::2] == [None, None, None]
    assert answers[1] == answers[3] == "max_orders_per_day 2 reached (2 sent)"
    assert (g.cfg.model_dump(), g.interval_ns, g.regular_hours) == before  # nothing changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.interval_ns = MIN  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh.orders_today = 5  # type: ignore[misc]


def test_max_orders_per_day() -> None:
    g = make_guards(settings(max_orders_per_day=2))
    for sent in (0, 1):
        assert g.check(intent(), BAR, at(end_of(BAR), orders=sent)) is None
    why = g.check(intent(), BAR, at(end_of(BAR), orders=2))
    assert why == "max_orders_per_day 2 reached (2 sent)"
    assert g.check(intent("exit"), BAR, at(end_of(BAR), orders=9)) is None  # exits never capped


def test_stale_bar_refuses_entries_only() -> None:
    """An exit missed while the bot was down still goes out (item 3 of issue 10)."""
    g = make_guards(settings(stale_after_intervals=2))
    week_later = at(end_of(BAR) + 7 * DAY)
    assert (g.check(intent(), BAR, week_later) or "").startswith("stale data")
    assert g.check(intent("exit"), BAR, week_later) is None
    assert g.check(intent("flatten"), BAR, week_later) is None
    # a daily bar's interval ends at the next midnight: 7 days after 16:00 less 8 hours
    assert "ended 576,000 s ago" in (g.late(BAR, week_later.now_ns) or "")


def test_stale_bar() -> None:
    g = make_guards(settings(stale_after_intervals=2, stale_tolerance_s=5.0), interval=MIN)
    bar = Bar(
        et_to_ns(datetime(2026, 1, 13, 10, 0, tzinfo=ET)),
        99,
        101,
        98,
        100.5,
        1e3,
        session_day(date(2026, 1, 13)),
    )
    closed = bar.ts + MIN
    assert g.check(intent(), bar, at(closed + 2 * MIN + 4_000_000_000)) is None  # 2 intervals + 4 s
    why = g.check(intent(), bar, at(closed + 2 * MIN + 6_000_000_000))
    assert why is not None and why.startswith("stale data") and "126 s ago" in why


@pytest.mark.parametrize(
    ("hhmm", "ok"),
    [((9, 29), False), ((9, 30), True), ((15, 59), True), ((16, 0), False), ((8, 0), False)],
)
def test_outside_session_minute_bars(hhmm: tuple[int, int], ok: bool) -> None:
    g = make_guards(settings(), interval=MIN)
    t = datetime(2026, 1, 13, *hhmm, tzinfo=ET)
    bar = Bar(et_to_ns(t), 99, 101, 98, 100.5, 1e3, session_day(t.date()))
    why = g.check(intent(), bar, at(bar.ts + MIN))
    assert (why is None) == ok
    if not ok:
        assert why is not None and "outside the regular session" in why


def test_market_closed_by_the_broker_clock() -> None:
    """A minute bar inside regular hours on the calendar, but the broker's clock says the
    market is closed (an unscheduled closure): refused; a daily decision still passes."""
    t = datetime(2026, 1, 13, 10, 0, tzinfo=ET)
    bar = Bar(et_to_ns(t), 99, 101, 98, 100.5, 1e3, session_day(t.date()))
    g = make_guards(settings(), interval=MIN)
    assert g.check(intent(), bar, at(bar.ts + MIN, market_open=True)) is None
    assert "outside the regular session" in (
        g.check(intent(), bar, at(bar.ts + MIN, market_open=False)) or ""
    )
    assert make_guards(settings()).check(intent(), BAR, at(end_of(BAR), market_open=False)) is None


def test_half_day_and_holiday() -> None:
    g = make_guards(settings(), interval=MIN)
    # 2025-12-24 closes at 13:00; 2025-12-25 is a holiday
    for t, ok in (
        (datetime(2025, 12, 24, 12, 59, tzinfo=ET), True),
        (datetime(2025, 12, 24, 13, 0, tzinfo=ET), False),
        (datetime(2025, 12, 25, 11, 0, tzinfo=ET), False),
    ):
        bar = Bar(et_to_ns(t), 99, 101, 98, 100.5, 1e3, session_day(t.date()))
        assert (g.check(intent(), bar, at(bar.ts + MIN)) is None) == ok


class WeekLate:
    """A clock that reads a week after each bar's close (the bot was down)."""

    def at_bar(self, bar: Bar) -> tuple[int, bool | None]:
        return end_of(bar) + 7 * DAY, None


def test_engine_records_and_journals_guard_refusals(tmp_path: Path) -> None:
    s = settings()
    journal = Journal(tmp_path / "events.jsonl")
    live = Live(make_guards(s), WeekLate(), TradingState())
    engine = Engine(
        build_strategy(s.strategy),
        build_risk(s),
        SimBroker(s.broker),
        10_000.0,
        events=Publisher([JournalSink(journal)]),
        live=live,
    )
    d = date(2026, 1, 12)
    for c in (95.0, 100.5):  # first bar sets BELOW, second breaks out
        engine.step(daily(d, c, c + 1, c - 1, c))
        d += timedelta(days=1)
    journal.flush()
    assert engine.portfolio.qty == 0 and engine.record.intents == []
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    guard_events = [e for e in lines if e["event"] == "guard"]
    assert len(guard_events) == 1 and guard_events[0]["reason"].startswith("stale data")
    assert [r.reason[:18] for r in engine.record.rejections] == ["guard: stale data:"]
