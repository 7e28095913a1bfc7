"""`bot paper` with a watchlist of two: both symbols replayed through alpaca-py against
the in-process emulator, one account, then `bot status` listing both (issue 14 item 3).

BABA's real bars and HALF (BABA's at half the price, its own level 81.70 and one
confirming close) come from the market-data store. The paper run must trade exactly as
the portfolio backtest of the same span does; every symbol is reconciled at start.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.engine.multirun import run_portfolio
from tests.test_paper_support import (
    DAILY_CSV,
    DEFAULT_TOML,
    bot_env,
    of_kind,
    read_events,
    run_bot,
    runs,
)

pytestmark = pytest.mark.slow

WATCH = """
[watchlist.BABA]
levels = [{ price = 163.43, source = "resistance named in the 2026-01-12 article" }]

[watchlist.HALF]
levels = [81.7]
strategy = { confirm_closes = 1 }
"""


@dataclass
class Run:
    config: Path
    state: Path
    logs: Path
    env: dict[str, str]
    stdout: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("watch")
    config = base / "watch.toml"
    config.write_text(DEFAULT_TOML.read_text() + WATCH, encoding="utf-8")
    half = base / "HALF_1d.csv"
    with DAILY_CSV.open(newline="") as src, half.open("w", newline="") as dst:
        rows = csv.DictReader(src)
        w = csv.DictWriter(dst, fieldnames=rows.fieldnames or [])
        w.writeheader()
        for r in rows:
            w.writerow(r | {c: repr(float(r[c]) / 2) for c in ("open", "high", "low", "close")})
    state, logs = base / "state", base / "logs"
    env = bot_env(logs, BOT_CONFIG=str(config), BOT_DATA__STORE=str(base / "store"))
    imported = run_bot(["data", "import", half], env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    out = run_bot(["paper", "--fresh", "--state-dir", state], env)
    assert out.returncode == 0, out.stdout + out.stderr
    return Run(config, state, logs, env, out.stdout)


def test_both_symbols_trade_as_the_portfolio_backtest_does(run: Run) -> None:
    settings = load_settings(run.config)
    baba = load_csv(DAILY_CSV, symbol="BABA").bars
    half = load_csv(run.config.parent / "HALF_1d.csv", symbol="HALF").bars
    series = {"BABA": baba, "HALF": half}
    spans = {
        sym: (b.index_of("2025-09-01"), b.index_of("2026-02-20T23:59:59", "right"))
        for sym, b in series.items()
    }
    bt = run_portfolio(settings, series, spans)
    want = sorted(
        (t.symbol, t.entry_ts, t.exit_ts, t.qty, round(t.entry_price, 4), round(t.exit_price, 4))
        for r in bt.results.values()
        for t in r.trades
    )
    events = last_run(run.logs)
    got = sorted(
        (t["symbol"], t["entry_time"], t["exit_time"], t["qty"], round(t["entry_price"], 4),
         round(t["exit_price"], 4))
        for t in of_kind(events, "trade")
    )  # fmt: skip
    assert [g[0] for g in got] == [w[0] for w in want] and len(got) >= 3
    assert {t[0] for t in got} == {"BABA", "HALF"}
    # Times as the journal writes them (ISO, US/Eastern); compare as days.
    assert [(g[0], g[1][:10], g[2][:10], g[3], g[4], g[5]) for g in got] == [
        (w[0], _day(w[1]), _day(w[2]), w[3], w[4], w[5]) for w in want
    ]
    assert f"equity {bt.equity[-1]:,.2f}" in run.stdout
    # Each fill is its own symbol's order.
    for f in of_kind(events, "fill"):
        assert f["client_order_id"].startswith(f"lb-{f['symbol']}-")


def last_run(logs: Path) -> list[dict[str, Any]]:
    return runs(read_events(logs))[-1]


def _day(ts: int) -> str:
    from bot.models import ns_to_et

    return ns_to_et(ts).date().isoformat()


def test_every_symbol_is_reconciled_at_start_and_named_in_the_console(run: Run) -> None:
    events = last_run(run.logs)
    assert sorted(e["symbol"] for e in of_kind(events, "reconcile")) == ["BABA", "HALF"]
    assert events[0]["event"] == "run_start" and events[0]["symbol"] == "BABA,HALF"
    lines = [ln for ln in run.stdout.splitlines() if " SIGNAL " in ln]
    assert lines and all(ln.split()[1] in ("BABA", "HALF") for ln in lines)
    assert "positions BABA 0, HALF 0" in run.stdout


def test_status_lists_every_symbol(run: Run) -> None:
    out = run_bot(["status", "--state-dir", run.state], run.env)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "BABA, HALF:" in text and "one account:" in text
    events = last_run(run.logs)
    for sym, level in (("BABA", "resistance_163.43"), ("HALF", "resistance_81.7")):
        row = next(ln for ln in text.splitlines() if ln.startswith(f"│ {sym}"))
        last = [e for e in of_kind(events, "signal") if e["symbol"] == sym][-1]
        assert str(last["bar_time"])[:10] in row, row
        assert level in text
    # The signals of each symbol are stored under it (read straight from SQLite).
    import sqlite3

    db = sqlite3.connect(run.state / "state.sqlite")
    try:
        counts = dict(db.execute("SELECT symbol, count(*) FROM signals GROUP BY symbol"))
    finally:
        db.close()
    per_symbol = {s: len([e for e in of_kind(events, "signal") if e["symbol"] == s])
                  for s in ("BABA", "HALF")}  # fmt: skip
    assert counts == per_symbol


def test_several_symbols_on_alpaca_need_the_keys_first(run: Run) -> None:
    # The Alpaca path of a watchlist (tests/test_live_watchlist.py runs it against the
    # emulator): without keys it stops before anything, saying what to do.
    out = run_bot(["paper", "--broker", "alpaca", "--state-dir", run.state.parent / "a"], run.env)
    assert out.returncode == 2
    assert "ALPACA_API_KEY and ALPACA_SECRET_KEY are not set" in out.stdout + out.stderr


def test_a_stopped_watchlist_replay_resumes_where_it_stopped(run: Run, tmp_path: Path) -> None:
    """Stopped after 2026-01-20 and started again against the same emulator account, the
    two symbols end with the trades of one uninterrupted replay (the fixture's)."""
    from bot.emulator import EmulatorServer, EmulatorState
    from tests.test_paper_support import KEYS

    market = tmp_path / "market"
    market.mkdir()
    (market / "BABA_1d.csv").write_text(DAILY_CSV.read_text())
    (market / "HALF_1d.csv").write_text((run.config.parent / "HALF_1d.csv").read_text())
    state_dir = tmp_path / "state"
    env = dict(run.env, BOT_PAPER__LOG_DIR=str(tmp_path / "logs"))
    with EmulatorServer(EmulatorState.from_dir(market), api_key=KEYS[0], secret_key=KEYS[1]) as srv:
        first = run_bot(["paper", "--fresh", "--emulator-url", srv.url, "--state-dir", state_dir,
                         "--to", "2026-01-20"], env)  # fmt: skip
        assert first.returncode == 0, first.stdout + first.stderr
        assert "positions BABA 149, HALF 299" in first.stdout  # both held at the stop
        second = run_bot(["paper", "--emulator-url", srv.url, "--state-dir", state_dir], env)
        assert second.returncode == 0, second.stdout + second.stderr
    both = read_events(tmp_path / "logs")
    resumed = sorted(
        (t["symbol"], t["entry_time"], t["exit_time"], t["qty"]) for t in of_kind(both, "trade")
    )
    whole = sorted(
        (t["symbol"], t["entry_time"], t["exit_time"], t["qty"])
        for t in of_kind(last_run(run.logs), "trade")
    )
    assert resumed == whole
    assert "positions BABA 0, HALF 0" in second.stdout
