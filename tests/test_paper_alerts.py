"""The alerts of `bot paper` (issue 15 item 1): the bundled replay's confirmed signals,
fills and run summary reach a local receiver through the real Apprise (`json://`), each
once; a second run that resumes the same account sends none again; the URL's token is in
no log line, event or state row; without a URL the alerts are printed.

Expected, by hand from data/BABA_1d.csv: the 163.43 breakout confirmed at the 2026-01-13
close, bought 149 at the 01-14 open (171.57 + 5 bp = 171.66), the breakdown confirmed at
the 02-05 close, sold 149 at the 02-06 open (160.46 - 5 bp = 160.38).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.emulator import EmulatorServer, EmulatorState
from tests.alert_receiver import Receiver
from tests.test_paper_support import DAILY_CSV, KEYS, bot_env, run_bot

pytestmark = pytest.mark.slow

TOKEN = "s3cretT0kenAbcdef123456"


def test_paper_alerts_arrive_once_and_never_again_on_resume(tmp_path: Path) -> None:
    receiver = Receiver().start()
    market = tmp_path / "market"
    market.mkdir()
    (market / "BABA_1d.csv").write_text(DAILY_CSV.read_text())
    url = receiver.url.replace("json://", "json://user:" + TOKEN + "@", 1)
    env = bot_env(tmp_path / "logs", BOT_ALERT_URLS_DEFAULT=url)
    state = tmp_path / "state"
    try:
        # The config's 5 bp slippage, and whole fills (one fill alert an order).
        emulated = EmulatorState.from_dir(market, slippage_bps=5.0, partial_fill_rate=0.0)
        with EmulatorServer(emulated, api_key=KEYS[0], secret_key=KEYS[1]) as srv:
            first = run_bot(["paper", "--fresh", "--emulator-url", srv.url, "--state-dir", state,
                             "--from", "2025-09-01", "--to", "2026-02-20"], env)  # fmt: skip
            assert first.returncode == 0, first.stdout + first.stderr
            assert receiver.wait_for(5, timeout=30)
            titles = sorted(p["title"] for p in receiver.received())
            assert titles == sorted([
                "BABA breakout resistance_163.43 (163.43): confirmed",
                "BABA bought 149 @ 171.66",
                "BABA breakdown resistance_163.43 (163.43): confirmed",
                "BABA sold 149 @ 160.38",
                "summary: the run ended",
            ])  # fmt: skip
            # Started again on the same account: nothing new to trade, nothing sent again.
            again = run_bot(["paper", "--emulator-url", srv.url, "--state-dir", state], env)
            assert again.returncode == 0, again.stdout + again.stderr
        assert not receiver.wait_for(6, timeout=3)
        ids = receiver.ids()
        assert len(ids) == len(set(ids)) == 5
    finally:
        receiver.stop()
    # The token is nowhere the bot writes.
    for path in (tmp_path / "logs").iterdir():
        assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path
    db = sqlite3.connect(state / "state.sqlite")
    try:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                assert TOKEN not in repr(row), table
    finally:
        db.close()
    assert TOKEN not in first.stdout + first.stderr + again.stdout + again.stderr


def test_without_a_url_the_alerts_are_printed(tmp_path: Path) -> None:
    env = bot_env(tmp_path / "logs")
    out = run_bot(["paper", "--fresh", "--state-dir", tmp_path / "state"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ALERT  BABA bought 149 @ 171.66" in out.stdout
    assert "ALERT  BABA sold 149 @ 160.38" in out.stdout
