"""`bot paper` end to end (issue 6): the real command in a subprocess, the real alpaca-py
SDK, HTTP on 127.0.0.1 to the emulator (in-process, or started here and passed with
--emulator-url), the state database and logs in a temporary directory.

Expected values come from data/BABA_1d.csv and config/default.toml (test_paper_support.
expected_trade): one long round trip, 149 shares bought at the 2026-01-14 open 171.57
plus 5 bps and sold at the 2026-02-06 open 160.46 minus 5 bps, after the 2026-01-13
breakout and the 2026-02-05 breakdown. Through the runner: scenarios 5 (a second
runner on the same state) and 23 (kill switch: `bot halt`, the halt file, restarts,
resume, exits and cancels) and 16 (bars missed while the bot was down are stale: no
order) of ../shared/ref/reliability-scenarios.md, and SIGTERM.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.emulator import EmulatorServer
from bot.engine.backtest import run_backtest
from tests.test_paper_support import (
    BUY,
    DAILY_CSV,
    DEFAULT_TOML,
    ROOT,
    SELL,
    admin,
    bot_env,
    broker_orders,
    broker_position,
    expected_trade,
    finish,
    iso_day,
    new_emulator,
    ns_day,
    of_kind,
    read_events,
    run_bot,
    runs,
    snapshot,
    start_bot,
    stop_quietly,
    wait_for,
)

pytestmark = pytest.mark.slow  # the real `bot` command in subprocesses

EXP = expected_trade()


# ---------------------------------------------------------------- fixtures


@dataclass
class Replay:
    state: Path
    logs: Path
    env: dict[str, str]
    started: datetime  # wall clock before the last run
    stdout: str


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The default replay (2025-09-01 to 2026-02-20, in-process emulator), preceded in
    the same log directory by a shorter replay, so "the last run" means something."""
    base = tmp_path_factory.mktemp("replay")
    state, logs = base / "state", base / "logs"
    env = bot_env(logs)
    short = run_bot(
        ["paper", "--fresh", "--state-dir", state, "--from", "2026-01-02", "--to", "2026-01-20"],
        env,
    )
    assert short.returncode == 0, short.stdout + short.stderr
    started = datetime.now(UTC)
    full = run_bot(["paper", "--fresh", "--state-dir", state], env)
    assert full.returncode == 0, full.stdout + full.stderr
    return Replay(state, logs, env, started, full.stdout)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """An external emulator the test can look into; a fresh state directory resets it."""
    with new_emulator() as server:
        yield server


def last_run(logs: Path) -> list[dict[str, Any]]:
    return runs(read_events(logs))[-1]


# ---------------------------------------------------------------- the replay itself


def test_replay_buys_at_the_breakout_and_sells_at_the_breakdown(replay: Replay) -> None:
    snap = snapshot(replay.state)
    assert [(cid, side, qty, ns_day(ts)) for cid, side, qty, _, ts in snap.fills] == [
        (BUY, "buy", EXP.qty, EXP.buy_day),
        (SELL, "sell", EXP.qty, EXP.sell_day),
    ]
    assert snap.fills[0][3] == pytest.approx(EXP.buy_price, abs=1e-6)  # 171.6558 (171.57 +5bp)
    assert snap.fills[1][3] == pytest.approx(EXP.sell_price, abs=1e-6)  # 160.3798 (160.46 -5bp)
    # No other order, and both are done at the broker's say-so.
    assert [order[:5] for order in snap.orders] == [
        (BUY, "buy", EXP.qty, "filled", EXP.qty),
        (SELL, "sell", EXP.qty, "filled", EXP.qty),
    ]
    assert snap.equity[-1][3] == 0  # flat at the end
    events = last_run(replay.logs)
    fills = of_kind(events, "fill")
    assert [(f["client_order_id"], f["side"], f["qty"], iso_day(f["bar_time"])) for f in fills] == [
        (BUY, "buy", EXP.qty, EXP.buy_day),
        (SELL, "sell", EXP.qty, EXP.sell_day),
    ]  # fmt: skip
    assert fills[0]["price"] == pytest.approx(EXP.buy_price, abs=1e-4)
    assert fills[1]["price"] == pytest.approx(EXP.sell_price, abs=1e-4)
    assert [e["client_order_id"] for e in of_kind(events, "order_intent")] == [BUY, SELL]
    assert {e["client_order_id"] for e in of_kind(events, "order")} == {BUY, SELL}
    assert not of_kind(events, "error") and not of_kind(events, "guard")
    assert "2 order(s), 2 fill(s); position 0 shares" in replay.stdout


def test_paper_trades_equal_the_backtest(replay: Replay) -> None:
    """The same engine over the same bars with a simulated broker: identical trades, and
    the same equity at every close of the replay."""
    settings = load_settings(DEFAULT_TOML)
    series = load_csv(DAILY_CSV).bars
    start = series.index_of("2025-09-01")
    stop = series.index_of("2026-02-20T23:59:59", "right")
    bt = run_backtest(settings, series, start, stop)
    backtest = [
        (t.side, t.qty, t.entry_ts, round(t.entry_price, 6), t.exit_ts, round(t.exit_price, 6))
        for t in bt.trades
    ]
    fills = snapshot(replay.state).fills
    paper = []
    for entry, exit_ in zip(fills[::2], fills[1::2], strict=True):
        assert (entry[1], exit_[1]) == ("buy", "sell") and entry[2] == exit_[2]
        paper.append(("long", entry[2], entry[4], entry[3], exit_[4], exit_[3]))
    assert paper == backtest
    assert len(paper) == 1  # and it is the trade the CSV says
    trades = of_kind(last_run(replay.logs), "trade")
    assert [(iso_day(t["entry_time"]), iso_day(t["exit_time"]), t["qty"]) for t in trades] == [
        (EXP.buy_day, EXP.sell_day, EXP.qty)
    ]
    eq = snapshot(replay.state).equity
    assert [r[0] for r in eq] == [int(t) for t in bt.bars.ts]
    assert [round(r[1], 6) for r in eq] == [round(float(e), 6) for e in bt.equity]


def test_every_event_line_is_json_with_time_run_id_and_event(replay: Replay) -> None:
    lines = (replay.logs / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines
    for n, line in enumerate(lines, 1):
        ev = json.loads(line)
        assert isinstance(ev, dict), f"line {n}"
        assert {"time", "run_id", "event"} <= ev.keys(), f"line {n}: {line[:120]}"
        assert datetime.fromisoformat(ev["time"]).utcoffset() is not None, f"line {n}"
    both = runs([json.loads(x) for x in lines])
    assert len(both) == 2
    for run in both:
        assert run[0]["event"] == "run_start" and run[-1]["event"] == "run_end"
        assert re.fullmatch(r"[0-9a-f]{16}", run[0]["config_hash"])
    assert both[1][-1]["stopped"] is False and both[1][-1]["position"] == 0


def test_logs_lists_the_signals_of_the_last_run(replay: Replay) -> None:
    out = run_bot(["logs", "--event", "signal", "--json"], replay.env)
    assert out.returncode == 0, out.stderr
    listed = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    assert [(e["kind"], ns_day(e["ts"])) for e in listed] == [
        ("breakout", EXP.breakout_day),
        ("breakdown", EXP.breakdown_day),
    ]
    assert listed == of_kind(last_run(replay.logs), "signal")
    # The earlier, shorter run journalled the breakout too: `--run all` shows it.
    every = run_bot(["logs", "--event", "signal", "--json", "--run", "all"], replay.env)
    assert [ns_day(json.loads(x)["ts"]) for x in every.stdout.splitlines()] == [
        EXP.breakout_day,
        EXP.breakout_day,
        EXP.breakdown_day,
    ]


def test_logs_since_finds_the_signals_just_journalled(replay: Replay) -> None:
    """An event's `time` is when it was written (UTC), so `--since 1h` right after a
    replay lists its signals; the bar a signal belongs to is a separate field."""
    out = run_bot(["logs", "--event", "signal", "--json", "--since", "1h"], replay.env)
    assert out.returncode == 0, out.stderr
    listed = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    assert [ns_day(e["ts"]) for e in listed] == [EXP.breakout_day, EXP.breakdown_day]
    now = datetime.now(UTC)
    for ev in last_run(replay.logs):
        written = datetime.fromisoformat(ev["time"])
        assert replay.started - timedelta(seconds=1) <= written <= now, ev


def test_status_shows_flat_the_last_signals_and_not_halted(replay: Replay) -> None:
    out = run_bot(["status", "--state-dir", replay.state], replay.env)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "BABA: trading" in text and "HALTED" not in text
    assert "position 0 shares" in text
    assert "0 open order(s)" in text
    rows = [line for line in text.splitlines() if re.search(r"20\d\d-\d\d-\d\d", line)]
    assert any("2026-01-13" in r and "breakout" in r for r in rows), text
    assert any("2026-02-05" in r and "breakdown" in r for r in rows), text


# ---------------------------------------------------------------- the `make run` path


def test_make_run_command_finishes_and_says_where_logs_and_state_are(tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(x for x in makefile.splitlines() if "bot paper" in x)
    args = line.split("bot", 1)[1].split()  # "$(BIN)/bot paper --fresh" -> [paper, --fresh]
    assert args[0] == "paper"
    state, logs = tmp_path / "state", tmp_path / "logs"
    out = run_bot(
        [*args, "--from", "2026-01-02", "--to", "2026-02-20", "--state-dir", state],
        bot_env(logs),
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert f"Logs:  {logs}/bot.log" in text and f"{logs}/events.jsonl" in text
    assert f"State: {state}/state.sqlite" in text
    assert (logs / "bot.log").exists() and (state / "state.sqlite").exists()
    assert [f[0] for f in snapshot(state).fills] == [BUY, SELL]


# ---------------------------------------------------------------- stopping and locking


def test_sigterm_stops_at_once_exits_143_and_says_how_to_go_on(tmp_path: Path) -> None:
    """Issue 10 item 9: SIGTERM ends the run at once (exit 143); the last line says it
    was interrupted and how to go on; what was saved is consistent."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    proc = start_bot(["paper", "--fresh", "--state-dir", state, "--speed", 20], bot_env(logs))
    try:
        wait_for("the first traded bar", (state / "heartbeat").exists, 30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code, output = finish(proc, timeout=30)  # a hang guard, not a speed check
    finally:
        stop_quietly(proc)
    assert code == 143, output
    last_line = output.strip().splitlines()[-1]
    assert "Interrupted (SIGTERM)" in last_line and "--fresh" in last_line, output
    assert "Traceback" not in output and "Done:" not in output
    end = last_run(logs)[-1]
    assert end["event"] == "run_end" and end["stopped"] is True
    assert end["interrupted"] == "SIGTERM"
    snap = snapshot(state)
    assert snap.last_bar_ts is not None
    assert snap.last_bar_ts == snap.equity[-1][0]  # the last bar saved is the last marked
    assert end["bars"] == len(snap.equity) > 0
    assert ns_day(snap.last_bar_ts) < EXP.sell_day  # it stopped well before the end


def test_second_runner_on_the_same_state_exits_3_and_sends_nothing(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    """Scenario 5. The first runner is paused (SIGSTOP) while the second starts, so any
    request the emulator receives meanwhile can only come from the second."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    url = emulator.url
    first = start_bot(["paper", "--emulator-url", url, "--state-dir", state, "--speed", 5], env)
    try:
        wait_for("the first runner's first bar", (state / "heartbeat").exists, 30)
        first.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        before, clock = admin(url, "stats"), admin(url, "state")["now"]
        bar_before = snapshot(state).last_bar_ts
        # --fresh too: the lock must be taken before anything is deleted or reset.
        # (How fast it refuses is measured by `make bench`, not asserted here.)
        second = run_bot(["paper", "--fresh", "--emulator-url", url, "--state-dir", state], env)
        after = admin(url, "stats")
        assert second.returncode == 3, second.stdout + second.stderr
        message = second.stdout + second.stderr
        assert "lock" in message and str(state / "bot.lock") in message, message
        assert after == before  # not one request from the second runner
        assert admin(url, "state")["now"] == clock
        assert snapshot(state).last_bar_ts == bar_before  # its state untouched
        first.send_signal(signal.SIGCONT)
        wait_for(
            "the first runner to carry on",
            lambda: admin(url, "stats")["requests"] > before["requests"],
            10,
        )
        first.send_signal(signal.SIGTERM)
        code, output = finish(first, timeout=15)
        assert code == 143, output
    finally:
        stop_quietly(first)


# ---------------------------------------------------------------- guards through the runner


def _no_entry_and_halt_logged(logs: Path, reason: str) -> None:
    events = last_run(logs)
    assert not of_kind(events, "order_intent") and not of_kind(events, "order")
    halts = of_kind(events, "halt") + of_kind(events, "guard")
    assert any(reason in str(e.get("reason")) for e in halts), halts
    refused = [e for e in of_kind(events, "risk") if e["decision"] == "reject"]
    assert [iso_day(e["signal_time"]) for e in refused] == [EXP.breakout_day]
    assert "halt" in refused[0]["reason"]


def _halt(how: str, state: Path, env: dict[str, str], reason: str) -> None:
    if how == "command":
        out = run_bot(["halt", "--state-dir", state, "--reason", reason], env)
        assert out.returncode == 0 and "HALTED" in out.stdout, out.stdout + out.stderr
    else:
        state.mkdir(parents=True, exist_ok=True)
        (state / "HALT").write_text(reason, encoding="utf-8")


@pytest.mark.parametrize("how", ["command", "file"])
def test_halt_before_a_replay_sends_no_entry(tmp_path: Path, how: str) -> None:
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    reason = "test halt before the run"
    _halt(how, state, env, reason)
    out = run_bot(
        ["paper", "--fresh", "--state-dir", state, "--from", "2026-01-02", "--to", "2026-01-20"],
        env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    _no_entry_and_halt_logged(logs, reason if how == "command" else str(state / "HALT"))
    assert snapshot(state).orders == []
    status = run_bot(["status", "--state-dir", state], env)
    assert "HALTED" in status.stdout and "position 0 shares" in status.stdout, status.stdout


@pytest.mark.parametrize("how", ["command", "file"])
def test_halt_during_a_replay_stops_the_next_entry(tmp_path: Path, how: str) -> None:
    """Halted at the first bar of a slow replay that reaches the breakout ~4 s later."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    reason = "test halt during the run"
    args = ["--from", "2025-11-17", "--to", "2026-01-16", "--speed", 10]
    proc = start_bot(["paper", "--fresh", "--state-dir", state, *args], env)
    try:
        wait_for("the first traded bar", (state / "heartbeat").exists, 30)
        _halt(how, state, env, reason)
        code, output = finish(proc, timeout=60)
    finally:
        stop_quietly(proc)
    assert code == 0, output
    events = last_run(logs)
    halt_at = next(i for i, e in enumerate(events) if e["event"] == "halt")
    bars_before = [e for e in events[:halt_at] if e["event"] == "bar"]
    assert bars_before, "the halt was seen at the first bar already"
    _no_entry_and_halt_logged(logs, reason if how == "command" else str(state / "HALT"))


def test_halt_survives_restarts_until_resume(tmp_path: Path, emulator: EmulatorServer) -> None:
    """Scenario 23: `bot halt` on a new state directory, two runs that stay halted, then
    `bot resume` and the same account trades again."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    url = emulator.url
    reason = "operator: earnings tonight"
    # The emulator as an earlier replay left it: the first run here must start it over.
    admin(url, "advance", {"until": "2026-02-20T21:00:00Z"})
    _halt("command", state, env, reason)
    base = ["paper", "--emulator-url", url, "--state-dir", state, "--from", "2025-12-15"]
    for to in ("2026-01-09", "2026-01-12"):  # first run, then a restart
        out = run_bot([*base, "--to", to], env)
        assert out.returncode == 0, out.stdout + out.stderr
        halts = of_kind(last_run(logs), "halt")
        assert [h["reason"] for h in halts] == [reason]
        status = run_bot(["status", "--state-dir", state], env)
        assert f"HALTED: {reason}" in status.stdout, status.stdout
    assert admin(url, "stats")["order_posts"] == {}
    out = run_bot(["resume", "--state-dir", state], env)
    assert out.returncode == 0 and "resumed" in out.stdout, out.stdout + out.stderr
    status = run_bot(["status", "--state-dir", state], env)
    assert "BABA: trading allowed" in status.stdout and "HALTED" not in status.stdout
    out = run_bot([*base, "--to", "2026-02-20"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    events = last_run(logs)
    assert not of_kind(events, "halt")
    assert [e["client_order_id"] for e in of_kind(events, "order_intent")] == [BUY, SELL]
    assert admin(url, "stats")["orders_created"] == {BUY: 1, SELL: 1}
    assert broker_position(url) == 0


def test_halt_still_lets_the_position_close(tmp_path: Path, emulator: EmulatorServer) -> None:
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    url = emulator.url
    base = ["paper", "--emulator-url", url, "--state-dir", state, "--from", "2025-12-15"]
    assert run_bot([*base, "--to", "2026-01-20"], env).returncode == 0
    assert broker_position(url) == EXP.qty
    _halt("command", state, env, "halt while long")
    out = run_bot([*base, "--to", "2026-02-20"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    events = last_run(logs)
    assert [h["reason"] for h in of_kind(events, "halt")] == ["halt while long"]
    assert [e["client_order_id"] for e in of_kind(events, "order_intent")] == [SELL]
    assert broker_position(url) == 0
    assert [(o[0], o[3]) for o in broker_orders(url)] == [(BUY, "filled"), (SELL, "filled")]


def test_halt_cancels_the_open_entry_order(tmp_path: Path, emulator: EmulatorServer) -> None:
    """The buy is sent after the 2026-01-13 close and waits for the next open; a halt
    before that open cancels it at the broker (cancel_on_halt = true)."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    url = emulator.url
    base = ["paper", "--emulator-url", url, "--state-dir", state, "--from", "2025-12-15"]
    assert run_bot([*base, "--to", "2026-01-13"], env).returncode == 0
    assert [(o[0], o[3]) for o in broker_orders(url)] == [(BUY, "accepted")]
    _halt("command", state, env, "halt with an order out")
    out = run_bot([*base, "--to", "2026-01-20"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(o[0], o[3], o[4]) for o in broker_orders(url)] == [(BUY, "canceled", 0.0)]
    assert broker_position(url) == 0
    assert snapshot(state).fills == []
    assert [o[3] for o in snapshot(state).orders] == ["canceled"]


def test_bars_missed_while_down_are_history_and_send_no_order(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    """Scenario 16 through the runner. The bot stops flat after 2026-01-09; while it is
    down the market moves on to the 2026-01-21 close (the breakout of 2026-01-13 happens
    meanwhile). The restart catches up on the missed bars without moving the broker's
    clock back, refuses the entry for the stale breakout bar with a "stale data" reason,
    and sends nothing; from the first fresh bar on, the replay moves the clock again."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    url = emulator.url
    base = ["paper", "--emulator-url", url, "--state-dir", state, "--from", "2025-12-15"]
    assert run_bot([*base, "--to", "2026-01-09"], env).returncode == 0
    admin(url, "advance", {"until": "2026-01-21T21:00:00Z"})
    out = run_bot([*base, "--to", "2026-02-20"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    events = last_run(logs)
    guards = of_kind(events, "guard")
    assert [iso_day(g["reason"].split("bar ")[1]) for g in guards] == [EXP.breakout_day]
    assert "stale data" in guards[0]["reason"]
    age_days = float(guards[0]["reason"].split("ended ")[1].split(" s ago")[0].replace(",", ""))
    age_days /= 86_400  # 2026-01-14 00:00 ET (the daily bar's ts + 1 day) to 01-21 16:00 ET
    assert age_days == pytest.approx(7 + 16 / 24, abs=1e-6)
    assert not of_kind(events, "order_intent")
    assert admin(url, "stats")["order_posts"] == {}
    assert admin(url, "state")["now"].startswith("2026-02-20T21:00:00")
    last = snapshot(state).last_bar_ts
    assert last is not None and ns_day(last).isoformat() == "2026-02-20"
