"""Each guard of the paper runner refuses with a logged reason (scenarios 16, 18, 23, 24)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backtest import build_risk
from bot.broker import SimBroker
from bot.calendar import MarketCalendar
from bot.engine import Engine
from bot.guards import Guards
from bot.journal import Journal
from bot.models import ET, Bar, OrderIntent, Side, et_to_ns, session_day
from bot.runner import guards_check
from bot.settings import Settings, load_settings
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


def make_guards(
    s: Settings, tmp_path: Path, halted: str | None = None, interval: int = DAY
) -> Guards:
    cal = MarketCalendar(date(2025, 12, 1), date(2026, 3, 1))
    return Guards(s.paper, interval, tmp_path / "HALT", lambda: halted, cal.is_open)


def end_of(bar: Bar) -> int:
    return bar.ts + DAY - 8 * 3600 * 1_000_000_000  # 16:00 ET of a daily bar


BAR = daily(date(2026, 1, 13), 99, 101, 98, 100.5)


def test_kill_switch_file_blocks_entries_not_exits(tmp_path: Path) -> None:
    g = make_guards(settings(), tmp_path)
    assert g.check(intent(), BAR, end_of(BAR)) is None
    (tmp_path / "HALT").write_text("stop")
    why = g.check(intent(), BAR, end_of(BAR))
    assert why is not None and "halt file" in why and str(tmp_path / "HALT") in why
    assert g.check(intent("exit"), BAR, end_of(BAR)) is None  # exits still allowed


def test_halted_flag_in_state_blocks_entries(tmp_path: Path) -> None:
    g = make_guards(settings(), tmp_path, halted="halted by bot halt")
    assert g.check(intent(), BAR, end_of(BAR)) == "halted by bot halt"


def test_max_daily_loss(tmp_path: Path) -> None:
    g = make_guards(settings(max_daily_loss_pct=3.0), tmp_path)
    g.on_bar(BAR, 10_000.0)
    assert g.after_bar(9_750.0) is None  # -2.5%: inside the limit
    why = g.after_bar(9_650.0)  # -3.5%
    assert why is not None and "3.50%" in why
    assert g.check(intent(), BAR, end_of(BAR)) == why
    nxt = daily(date(2026, 1, 14), 99, 101, 98, 100)
    g.on_bar(nxt, 9_650.0)  # a new session resets the limit
    assert g.check(intent(), nxt, end_of(nxt)) is None


def test_max_orders_per_day(tmp_path: Path) -> None:
    sent: dict[int, int] = {}  # orders per session, as the state store counts them
    cal = MarketCalendar(date(2025, 12, 1), date(2026, 3, 1))
    g = Guards(settings(max_orders_per_day=2).paper, DAY, tmp_path / "HALT", lambda: None,
               cal.is_open, count_orders=lambda session: sent.get(session, 0))  # fmt: skip
    g.on_bar(BAR, 10_000.0)
    for _ in range(2):
        assert g.check(intent(), BAR, end_of(BAR)) is None
        assert g.check(intent(), BAR, end_of(BAR)) is None  # asking twice counts nothing
        sent[BAR.session] = sent.get(BAR.session, 0) + 1
    assert "max_orders_per_day 2" in (g.check(intent(), BAR, end_of(BAR)) or "")
    assert g.check(intent("exit"), BAR, end_of(BAR)) is None  # exits are never capped


def test_stale_bar_refuses_entries_only(tmp_path: Path) -> None:
    """An exit missed while the bot was down still goes out (item 3 of issue 10)."""
    g = make_guards(settings(stale_after_intervals=2), tmp_path)
    week_later = end_of(BAR) + 7 * DAY
    assert (g.check(intent(), BAR, week_later) or "").startswith("stale data")
    assert g.check(intent("exit"), BAR, week_later) is None
    assert g.check(intent("flatten"), BAR, week_later) is None
    # a daily bar's interval ends at the next midnight: 7 days after 16:00 less 8 hours
    assert "ended 576,000 s ago" in (g.late(BAR, week_later) or "")


def test_stale_bar(tmp_path: Path) -> None:
    g = make_guards(
        settings(stale_after_intervals=2, stale_tolerance_s=5.0), tmp_path, interval=MIN
    )
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
    assert g.check(intent(), bar, closed + 2 * MIN + 4_000_000_000) is None  # 2 intervals + 4 s
    why = g.check(intent(), bar, closed + 2 * MIN + 6_000_000_000)
    assert why is not None and why.startswith("stale data") and "126 s ago" in why


@pytest.mark.parametrize(
    ("hhmm", "ok"),
    [((9, 29), False), ((9, 30), True), ((15, 59), True), ((16, 0), False), ((8, 0), False)],
)
def test_outside_session_minute_bars(tmp_path: Path, hhmm: tuple[int, int], ok: bool) -> None:
    g = make_guards(settings(), tmp_path, interval=MIN)
    t = datetime(2026, 1, 13, *hhmm, tzinfo=ET)
    bar = Bar(et_to_ns(t), 99, 101, 98, 100.5, 1e3, session_day(t.date()))
    why = g.check(intent(), bar, bar.ts + MIN)
    assert (why is None) == ok
    if not ok:
        assert why is not None and "outside the regular session" in why


def test_half_day_and_holiday(tmp_path: Path) -> None:
    g = make_guards(settings(), tmp_path, interval=MIN)
    # 2025-12-24 closes at 13:00; 2025-12-25 is a holiday
    for t, ok in (
        (datetime(2025, 12, 24, 12, 59, tzinfo=ET), True),
        (datetime(2025, 12, 24, 13, 0, tzinfo=ET), False),
        (datetime(2025, 12, 25, 11, 0, tzinfo=ET), False),
    ):
        bar = Bar(et_to_ns(t), 99, 101, 98, 100.5, 1e3, session_day(t.date()))
        assert (g.check(intent(), bar, bar.ts + MIN) is None) == ok


def test_engine_records_and_journals_guard_refusals(tmp_path: Path) -> None:
    s = settings()
    journal = Journal(tmp_path / "events.jsonl")
    g = make_guards(s, tmp_path)
    engine = Engine(
        build_strategy(s.strategy),
        build_risk(s),
        SimBroker(s.broker),
        10_000.0,
        events=journal.event,
        guard=guards_check(g),
    )
    (tmp_path / "HALT").write_text("")
    d = date(2026, 1, 12)
    for c in (95.0, 100.5):  # first bar sets BELOW, second breaks out
        bar = daily(d, c, c + 1, c - 1, c)
        engine.now_ns = end_of(bar)
        engine.on_bar(bar)
        d += timedelta(days=1)
    journal.flush()
    assert engine.portfolio.qty == 0 and engine.record.intents == []
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    guard_events = [e for e in lines if e["event"] == "guard"]
    assert len(guard_events) == 1 and "halt file" in guard_events[0]["reason"]
    assert any("guard: halt file" in r.reason for r in engine.record.rejections)
