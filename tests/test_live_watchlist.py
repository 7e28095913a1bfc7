"""`bot paper --broker alpaca` with a watchlist of two (issue 14 item 3): the real
AlpacaFeeds, PaperRunner, LiveBroker and alpaca-py against the emulator, its clock moved
fast (virtual time, as in tests/test_live_schedule.py), one account.

BABA's real bars and HALF (BABA's at half the price, its own level 81.70, one confirming
close). By hand from data/BABA_1d.csv: BABA breaks out at the 2026-01-13 close and down
at the 2026-02-05 close; HALF (one close) at 2026-01-12 and 2026-02-04. The live run
must trade as the portfolio backtest of the same sessions does.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import lifecycle
from bot.alpaca.marketdata import AlpacaMarketData
from bot.alpaca.ratelimit import RateLimiter
from bot.data.load import load_csv
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.engine.multirun import run_portfolio
from bot.live.feed import AlpacaFeed, Timer
from bot.live.retry import Retrier
from bot.live.runner import PaperRunner
from bot.models import ns_to_et
from strategies import build_strategy
from tests.test_live_schedule import (
    KEY,
    ROOT,
    SECRET,
    FastClockApi,
    VirtualTime,
    events,
    live_settings,
)

START = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # noon ET: the 01-05 bar is the first traded
UNTIL = datetime(2026, 2, 10, 23, 0, tzinfo=UTC)


@pytest.fixture
def market(tmp_path: Path) -> Path:
    d = tmp_path / "market"
    d.mkdir()
    src = ROOT / "data" / "BABA_1d.csv"
    (d / "BABA_1d.csv").write_text(src.read_text())
    with src.open(newline="") as fh, (d / "HALF_1d.csv").open("w", newline="") as out:
        rows = csv.DictReader(fh)
        w = csv.DictWriter(out, fieldnames=rows.fieldnames or [])
        w.writeheader()
        for r in rows:
            w.writerow(r | {c: repr(float(r[c]) / 2) for c in ("open", "high", "low", "close")})
    return d


@pytest.fixture
def server(market: Path) -> Iterator[EmulatorServer]:
    # Whole fills at once, so quantities compare with the backtest's (partial fills are
    # tested in tests/test_live_e2e.py).
    state = EmulatorState.from_dir(market, START, partial_fill_rate=0.0, slippage_bps=0.0)
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv
    lifecycle.reset()


def test_two_symbols_live_on_one_account_trade_as_the_portfolio_backtest(
    server: EmulatorServer, tmp_path: Path, market: Path
) -> None:
    s = live_settings(server.url, tmp_path)
    s = s.model_copy(
        update={
            "watchlist": load_watchlist(tmp_path),
        }
    )
    vt = VirtualTime(server.url, START, UNTIL)
    api = FastClockApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
    api.vt = vt
    data = AlpacaMarketData(s.alpaca, KEY, SECRET, limiter=api.limiter)
    feeds = {}
    states: list[str] = []  # the feeds' heartbeat states ("re-reading (until ...)", ...)
    for sym in s.symbols:
        mine = s.for_symbol(sym)
        warmup = max(build_strategy(mine.strategy).warmup_bars(), mine.risk.atr_period + 1) + 5
        feeds[sym] = AlpacaFeed(
            data, api.clock, sym, warmup, Retrier(0.001, 0.01, sleep=vt.sleep),
            settle_s=s.paper.settle_delay_s, reread_s=s.paper.reread_s,
            heartbeat=states.append, heartbeat_s=s.paper.heartbeat_s,
            timer=Timer(vt.monotonic, vt.sleep),
        )  # fmt: skip
    runner = PaperRunner(s, api, feeds, "alpaca (emulated)", sleep=vt.sleep)
    with pytest.raises(lifecycle.Interrupted):
        runner.run()

    evs = events(tmp_path)
    bars = [e for e in evs if e["event"] == "bar"]
    days = sorted({b["bar_time"][:10] for b in bars})
    assert days[0] == "2026-01-05" and days[-1] == "2026-02-10"
    # Every session: both symbols' bars, BABA's first (the watchlist's order).
    for day in days:
        mine = [b["symbol"] for b in bars if b["bar_time"][:10] == day]
        assert mine == ["BABA", "HALF"], (day, mine)
    # One re-read pause a session for both symbols, not one each.
    rereads = {st for st in states if st.startswith("re-reading")}
    assert len(rereads) == len(days)  # every session read live (the run starts at 01-05 noon)
    # The portfolio backtest of the same sessions.
    baba = load_csv(market / "BABA_1d.csv", symbol="BABA").bars
    half = load_csv(market / "HALF_1d.csv", symbol="HALF").bars
    series = {"BABA": baba, "HALF": half}
    spans = {
        sym: (b.index_of("2026-01-05"), b.index_of("2026-02-10T23:59:59", "right"))
        for sym, b in series.items()
    }
    bt = run_portfolio(s, series, spans)
    want = sorted(
        (t.symbol, _day(t.entry_ts), _day(t.exit_ts), t.qty)
        for r in bt.results.values()
        for t in r.trades
    )
    got = sorted(
        (t["symbol"], t["entry_time"][:10], t["exit_time"][:10], t["qty"])
        for t in evs
        if t["event"] == "trade"
    )
    assert got == want
    assert [w[:3] for w in want] == [
        ("BABA", "2026-01-14", "2026-02-06"),
        ("HALF", "2026-01-13", "2026-02-05"),
    ]
    reconciled = sorted(e["symbol"] for e in evs if e["event"] == "reconcile")
    assert reconciled == ["BABA", "HALF"]


def _day(ts: int) -> str:
    return ns_to_et(ts).date().isoformat()


def load_watchlist(tmp_path: Path) -> dict[str, object]:
    """The watchlist tables, read through the real loader."""
    from bot.config_load import load_settings
    from tests.conftest import DEFAULT_TOML

    cfg = tmp_path / "watch.toml"
    cfg.write_text(
        DEFAULT_TOML.read_text()
        + "\n[watchlist.BABA]\nlevels = [163.43]\n"
        + "\n[watchlist.HALF]\nlevels = [81.7]\nstrategy = { confirm_closes = 1 }\n",
        encoding="utf-8",
    )
    return dict(load_settings(cfg).watchlist)
