"""Helpers shared by the end-to-end tests of `bot paper` (test_paper_replay.py and
test_paper_chaos.py). This module holds no tests of its own.

Everything here drives the bot from the outside: the real `bot` command in a subprocess
(cwd = the project, BOT_CONFIG the tests' base config, data/BABA_1d.csv), logs and state
in the test's temporary directory, and, where a test needs to look at the broker, an
emulator started in the test process whose admin routes (/_emulator/*) are read with
plain HTTP. Expected values are computed here from data/BABA_1d.csv and
the tests' base config with pandas and tomllib, never with the bot's own code.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
DAILY_CSV = ROOT / "data" / "BABA_1d.csv"
DEFAULT_TOML = ROOT / "tests" / "fixtures" / "base.toml"  # the tests' base (conftest.py)
_SIBLING = Path(sys.executable).with_name("bot")
BOT = _SIBLING if _SIBLING.exists() else ROOT / ".venv" / "bin" / "bot"
KEYS = ("emulator-key", "emulator-secret")  # what `bot paper --emulator-url` sends
ADMIN = {"APCA-API-KEY-ID": KEYS[0], "APCA-API-SECRET-KEY": KEYS[1]}  # /_emulator needs them

# The README's documented client order id scheme: strategy-symbol-level-signal bar-action.
BUY = "lb-BABA-r163.43-20260113T0000-buy"
SELL = "lb-BABA-r163.43-20260205T0000-sell"


# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    qty: int
    buy_day: date
    buy_price: float
    sell_day: date
    sell_price: float
    breakout_day: date
    breakdown_day: date


def expected_trade() -> Expected:
    """The one round trip of the default replay, from the CSV and the TOML alone.

    Breakout: two closes more than 1% above 163.43 (2026-01-12/13); breakdown: two closes
    more than 1% below it (2026-02-04/05). The entry is 25% of the initial cash at the
    signal bar's close, in whole shares; market orders fill at the next open, 5 bps worse.
    """
    cfg = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    df = pd.read_csv(DAILY_CSV, parse_dates=["timestamp"]).set_index("timestamp")
    level = cfg["strategy"]["levels"][0]
    up = level * (1 + cfg["strategy"]["breakout_buffer_pct"] / 100)
    down = level * (1 - cfg["strategy"]["breakdown_buffer_pct"] / 100)
    closes, opens = df["close"], df["open"]
    assert closes["2026-01-12"] > up and closes["2026-01-13"] > up  # the spec's breakout
    assert closes["2026-02-04"] < down and closes["2026-02-05"] < down  # and breakdown
    slip = cfg["broker"]["slippage_bps"] / 10_000
    cash = cfg["broker"]["initial_cash"]
    qty = math.floor(cash * cfg["risk"]["percent_equity"] / 100 / closes["2026-01-13"])
    return Expected(
        qty=qty,
        buy_day=date(2026, 1, 14),
        buy_price=float(opens["2026-01-14"]) * (1 + slip),
        sell_day=date(2026, 2, 6),
        sell_price=float(opens["2026-02-06"]) * (1 - slip),
        breakout_day=date(2026, 1, 13),
        breakdown_day=date(2026, 2, 5),
    )


def ns_day(ts: int) -> date:
    """The US/Eastern calendar day of a UTC-nanosecond bar time (daily bars: midnight ET)."""
    return pd.Timestamp(ts, tz="UTC").tz_convert("America/New_York").date()


def iso_day(text: str) -> date:
    return date.fromisoformat(str(text)[:10])


# ---------------------------------------------------------------- running the bot


def bot_env(log_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without BOT_* / ALPACA_*, logs in `log_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("BOT_", "ALPACA_"))}
    env["BOT_CONFIG"] = str(DEFAULT_TOML)
    env["BOT_PAPER__LOG_DIR"] = str(log_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def bot_cmd(*args: object) -> list[str]:
    return [str(BOT), *(str(a) for a in args)]


def run_bot(
    args: Sequence[object], env: dict[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot_cmd(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_bot(args: Sequence[object], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        bot_cmd(*args),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    """Wait for the process (killing it if it overstays); its exit code and output."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"bot did not finish within {timeout} s; output:\n{out}") from None
    return proc.returncode, out or ""


def stop_quietly(proc: subprocess.Popen[str]) -> None:
    """Clean-up for a test that failed half-way: no runner outlives its test."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.communicate()


def wait_for(what: str, cond: Callable[[], bool], timeout: float, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


# ---------------------------------------------------------------- reading what it left


def read_events(log_dir: Path) -> list[dict[str, Any]]:
    path = log_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def runs(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events grouped by run id, in the order the runs started."""
    order: list[str] = []
    by_run: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        rid = ev["run_id"]
        if rid not in by_run:
            order.append(rid)
            by_run[rid] = []
        by_run[rid].append(ev)
    return [by_run[r] for r in order]


def of_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


# ---------------------------------------------------------------- the emulator's admin API


def new_emulator() -> Any:
    """An emulator as `bot emulator` makes it with the default config (data/, 100,000 cash,
    5 bps slippage), not started; a `bot paper` on a fresh state directory resets it."""
    from bot.emulator import EmulatorServer, EmulatorState

    cfg = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    state = EmulatorState.from_dir(
        ROOT / "data",
        None,
        initial_cash=cfg["emulator"]["initial_cash"],
        slippage_bps=cfg["broker"]["slippage_bps"],
    )
    return EmulatorServer(state, api_key=KEYS[0], secret_key=KEYS[1])


def admin(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    full = f"{url}/_emulator/{route}"
    resp = (
        requests.post(full, json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(full, timeout=10, headers=ADMIN)
    )
    resp.raise_for_status()
    return resp.json()


def broker_orders(url: str) -> list[tuple[str, str, float, str, float, float | None]]:
    """(client order id, side, qty, status, filled qty, filled avg price), oldest first."""
    return [
        (o["client_order_id"], o["side"], float(o["qty"]), o["status"], float(o["filled_qty"]),
         None if o["filled_avg_price"] is None else round(float(o["filled_avg_price"]), 6))
        for o in admin(url, "state")["orders"]
    ]  # fmt: skip


def broker_fills(url: str) -> list[tuple[str, str, float, float, str]]:
    return [
        (f["client_order_id"], f["side"], float(f["qty"]), round(float(f["price"]), 6), f["time"])
        for f in admin(url, "state")["fills"]
    ]


def broker_position(url: str) -> float:
    return sum(float(p["qty"]) for p in admin(url, "state")["positions"])


# ---------------------------------------------------------------- the bot's state database


@dataclass
class Snapshot:
    orders: list[tuple[str, str, float, str, float, float | None]]
    fills: list[tuple[str, str, float, float, int]]
    last_bar_ts: int | None
    equity: list[tuple[int, float, float, float]]
    halted: str | None


def snapshot(state_dir: Path) -> Snapshot:
    """What the bot recorded (read with bot.store.state.StateStore, which checks every row)."""
    from bot.store.halts import saved_halt
    from bot.store.state import StateStore

    path = state_dir / "state.sqlite"
    assert path.exists(), f"no state database at {path}"
    store = StateStore(path)
    try:
        return Snapshot(
            orders=[
                (
                    r.client_order_id,
                    str(r.side),
                    r.qty,
                    r.status,
                    r.filled_qty,
                    None if r.avg_price is None else round(r.avg_price, 6),
                )
                for r in store.orders()
            ],
            fills=[
                (f.client_order_id, str(f.side), f.qty, round(f.price, 6), f.ts)
                for f in store.fills()
            ],
            last_bar_ts=store.last_bar_ts(),
            equity=[tuple(r) for r in store.equity_rows()],  # type: ignore[misc]
            halted=halt.reason if (halt := saved_halt(store)) else None,
        )
    finally:
        store.close()
