"""Protection that outlives the bot: brackets at the broker, and the paper path equals
the backtest with stops and take-profits (same engine, SimBroker vs emulator + SDK)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.emulator.client import EmulatorAdmin
from bot.engine.backtest import run_backtest
from bot.live.feeds import ReplayFeed
from bot.live.runner import PaperRunner
from bot.settings import Settings
from bot.store.state import StateStore

pytestmark = pytest.mark.slow  # whole replays against the emulator, and the `bot` command

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KEY, SECRET = "emulator-key", "emulator-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them
START = datetime(2025, 8, 29, 20, 0, tzinfo=UTC)  # 16:00 ET, the close before the replay


def settings(url: str, tmp: Path, risk: dict[str, Any]) -> Settings:
    return load_settings(
        None,
        {
            "risk": risk,
            "broker": {"slippage_bps": 0.0},
            "alpaca": {"trading_url": url, "data_url": url, "backoff_base_s": 0.001},
            "paper": {
                "state_dir": str(tmp / "state"),
                "log_dir": str(tmp / "logs"),
                "halt_file": str(tmp / "state" / "HALT"),
            },
        },
    )


def paper_trades(
    risk: dict[str, Any], tmp: Path, stop_at: str | None = None
) -> tuple[list[Any], Any]:
    state = EmulatorState.from_dir(DATA, START, slippage_bps=0.0)
    series = load_csv(DATA / "BABA_1d.csv").bars
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        s = settings(srv.url, tmp, risk)
        api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
        PaperRunner(
            s, api, ReplayFeed(series, EmulatorAdmin(srv.url, keys=(KEY, SECRET))), "emulator"
        ).run()
        orders = requests.get(f"{srv.url}/_emulator/state", timeout=10, headers=ADMIN).json()[
            "orders"
        ]
    store = StateStore(tmp / "state" / "state.sqlite")
    fills = [(f.side.value, f.qty, round(f.price, 4), f.ts) for f in store.fills()]
    store.close()
    return fills, orders


@pytest.mark.parametrize(
    "risk",
    [
        {"stop_loss": True, "atr_multiple": 1.0},  # a tight stop: hit before the breakdown
        {"stop_loss": True, "take_profit_pct": 2.0, "atr_multiple": 3.0},  # bracket: TP first
    ],
    ids=["stop", "bracket"],
)
def test_paper_with_protection_equals_backtest(tmp_path: Path, risk: dict[str, Any]) -> None:
    fills, orders = paper_trades(risk, tmp_path)
    s = load_settings(None, {"risk": risk, "broker": {"slippage_bps": 0.0}})
    series = load_csv(DATA / "BABA_1d.csv").bars
    bt = run_backtest(s, series, series.index_of("2025-09-01"))
    expected = [(f.side.value, f.qty, round(f.price, 4), f.ts) for f in bt.record.fills]
    assert fills == expected
    assert len(expected) >= 2
    # the entry went to the broker with its protection attached
    entry = next(o for o in orders if o["client_order_id"].endswith("-buy"))
    assert entry["order_class"] in ("bracket", "oto")
    legs = [o for o in orders if o["parent_id"] == entry["id"]]
    assert {o["type"] for o in legs} >= {"stop"}
    # exactly one leg filled; the OCO sibling (if any) was cancelled, never both
    assert sum(o["status"] == "filled" for o in legs) <= 1


def test_stop_fills_while_the_bot_is_down(tmp_path: Path) -> None:
    """The bot stops right after its entry; the broker's stop still closes the position,
    and on restart the bot books that fill (on the bar it happened) instead of re-entering."""
    risk = {"stop_loss": True, "atr_multiple": 1.0}
    state = EmulatorState.from_dir(DATA, START, slippage_bps=0.0)
    series = load_csv(DATA / "BABA_1d.csv").bars
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        s = settings(srv.url, tmp_path, risk)
        api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
        part = series.slice(0, series.index_of("2026-01-14T23:59", "right"))
        PaperRunner(
            s, api, ReplayFeed(part, EmulatorAdmin(srv.url, keys=(KEY, SECRET))), "emulator"
        ).run()
        # while the bot is down the market moves on to the end of February
        EmulatorAdmin(srv.url, keys=(KEY, SECRET)).advance(
            int(datetime(2026, 2, 21, 0, 0, tzinfo=UTC).timestamp() * 1e9)
        )
        st = requests.get(f"{srv.url}/_emulator/state", timeout=10, headers=ADMIN).json()
        assert st["positions"] == []  # the stop at the broker closed it
        PaperRunner(
            s, api, ReplayFeed(series, EmulatorAdmin(srv.url, keys=(KEY, SECRET))), "emulator"
        ).run()
        stats = requests.get(f"{srv.url}/_emulator/stats", timeout=10, headers=ADMIN).json()
    store = StateStore(tmp_path / "state" / "state.sqlite")
    fills = store.fills()
    store.close()
    bt = run_backtest(
        load_settings(None, {"risk": risk, "broker": {"slippage_bps": 0.0}}),
        series,
        series.index_of("2025-09-01"),
    )
    assert [(f.side, f.qty, round(f.price, 4)) for f in fills[:2]] == [
        (f.side, f.qty, round(f.price, 4)) for f in bt.record.fills[:2]
    ]
    assert set(stats["orders_created"].values()) == {1}


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_wrong_keys_one_clear_message(tmp_path: Path) -> None:
    state = EmulatorState.from_dir(DATA, START)
    with EmulatorServer(state, Faults(), api_key="right", secret_key="right-secret") as srv:
        env = {
            "PATH": "/usr/bin:/bin",
            "ALPACA_API_KEY": "wrong",
            "ALPACA_SECRET_KEY": "wrong-secret-value",
            "BOT_ALPACA__TRADING_URL": srv.url,
            "BOT_ALPACA__DATA_URL": srv.url,
            "BOT_PAPER__STATE_DIR": str(tmp_path / "state"),
            "BOT_PAPER__LOG_DIR": str(tmp_path / "logs"),
        }
        r = subprocess.run(
            [sys.executable, "-m", "bot", "paper", "--broker", "alpaca"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    out = r.stdout + r.stderr
    assert r.returncode == 2
    assert "rejected the API keys" in out and "Traceback" not in out
    assert "wrong-secret-value" not in out


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_live_needs_both_opt_ins(tmp_path: Path) -> None:
    state = EmulatorState.from_dir(DATA, START)
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        env = {
            "PATH": "/usr/bin:/bin",
            "ALPACA_API_KEY": KEY,
            "ALPACA_SECRET_KEY": SECRET,
            "BOT_ALPACA__TRADING_URL": srv.url,
            "BOT_PAPER__STATE_DIR": str(tmp_path / "state"),
            "BOT_PAPER__LOG_DIR": str(tmp_path / "logs"),
        }
        r = subprocess.run(
            [sys.executable, "-m", "bot", "paper", "--broker", "alpaca", "--live"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        stats = requests.get(f"{srv.url}/_emulator/stats", timeout=10, headers=ADMIN).json()
    assert r.returncode == 2 and "live trading refused" in (r.stdout + r.stderr)
    assert stats["requests"] == 0  # refused before any request
