"""Crash-only restarts of `bot paper` (scenarios 1 and 2): SIGKILL at random instants and
in the commit gaps, against an emulator that outlives the bot; run alone with -m chaos.

- random kills (seeded), restarted until a run ends by itself, >= 20 kills in all;
- a kill after the broker accepted the buy, before the bot recorded the answer;
- a kill after the broker filled the buy, before the bot booked the fill;
- an entry left in doubt by a crash, never at the broker, must not block later entries;
- a kill while the first start creates the state database (it is built aside and renamed
  into place, so the restart starts as new).

The emulator is started in the test process (like `bot emulator`, default config) and
passed with --emulator-url; a fresh state directory makes `bot paper` reset it to the
close of the last bar before the replay. The reference is an uninterrupted run of the
same command on a second emulator and state directory. After the kills, the broker's
orders, fills and position and the bot's state database must equal the reference's,
with every client order id created exactly once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import EmulatorServer
from tests.test_paper_support import (
    BUY,
    ROOT,
    SELL,
    admin,
    bot_cmd,
    bot_env,
    broker_fills,
    broker_orders,
    broker_position,
    expected_trade,
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

pytestmark = pytest.mark.chaos

# 45 bars around the trade (breakout 2026-01-13, breakdown 2026-02-05) at 20 bars a
# second: a run lasts ~1 s of start-up plus ~2.3 s of trading, so that kills drawn
# over the run's duration land before, during and after the position.
FROM, TO, SPEED = "2025-12-15", "2026-02-20", 20
MIN_KILLS = 20
SEED = 20260113
EXP = expected_trade()


def paper_args(url: str, state: Path) -> list[object]:
    return [
        "paper", "--emulator-url", url, "--state-dir", state,
        "--from", FROM, "--to", TO, "--speed", SPEED,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chaos_emulator() -> Iterator[EmulatorServer]:
    with new_emulator() as server:
        yield server


@dataclass
class Outcome:
    broker_orders: list[Any]
    broker_fills: list[Any]
    broker_position: float
    created: dict[str, int]
    state_orders: list[Any]
    state_fills: list[Any]


def outcome(url: str, state: Path) -> Outcome:
    snap = snapshot(state)
    return Outcome(
        broker_orders=broker_orders(url),
        broker_fills=broker_fills(url),
        broker_position=broker_position(url),
        created=admin(url, "stats")["orders_created"],
        state_orders=snap.orders,
        state_fills=snap.fills,
    )


@dataclass
class Reference:
    outcome: Outcome
    duration: float


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    base = tmp_path_factory.mktemp("reference")
    with new_emulator() as server:
        t0 = time.monotonic()
        out = run_bot(paper_args(server.url, base / "state"), bot_env(base / "logs"))
        duration = time.monotonic() - t0
        assert out.returncode == 0, out.stdout + out.stderr
        ref = outcome(server.url, base / "state")
    # The reference is the trade the CSV says (test_paper_support.expected_trade).
    assert [(f[0], f[2]) for f in ref.state_fills] == [(BUY, EXP.qty), (SELL, EXP.qty)]
    assert [ns_day(f[4]) for f in ref.state_fills] == [EXP.buy_day, EXP.sell_day]
    assert ref.state_fills[0][3] == pytest.approx(EXP.buy_price, abs=1e-6)
    assert ref.state_fills[1][3] == pytest.approx(EXP.sell_price, abs=1e-6)
    assert ref.created == {BUY: 1, SELL: 1} and ref.broker_position == 0
    return Reference(ref, duration)


def assert_same_as_reference(got: Outcome, ref: Outcome) -> None:
    assert all(n == 1 for n in got.created.values()), f"duplicate client order ids: {got}"
    assert set(got.created) <= set(ref.created), f"orders the reference did not send: {got}"
    assert got.broker_orders == ref.broker_orders
    assert got.broker_fills == ref.broker_fills
    assert got.broker_position == ref.broker_position
    assert got.state_orders == ref.state_orders
    assert got.state_fills == ref.state_fills
    assert got.created == ref.created


def run_until(args: list[object], env: dict[str, str], console: Path, at: float) -> int:
    """Run `bot` (output to `console`); SIGKILL it `at` seconds after the start unless it
    has ended by then. Its exit code (-9 when killed)."""
    console.parent.mkdir(parents=True, exist_ok=True)
    with console.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(bot_cmd(*args), cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            return proc.wait(timeout=at)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            return proc.wait()


def clean_slate(url: str) -> None:
    """No faults, and no orders or counts left by an earlier test (the bot resets the
    emulator itself on a fresh state directory, but a test may poll before it has)."""
    admin(url, "faults", {"error_rate": 0.0, "drop_next": 0, "delay_s": 0.0})
    admin(url, "reset", {"now": "2025-12-12T21:00:00Z"})


def phase(last_bar_ts: int | None) -> str:
    if last_bar_ts is None:
        return "start-up"
    day = ns_day(last_bar_ts)
    if day < EXP.breakout_day:
        return "flat"
    if day < EXP.sell_day:
        return "long"
    return "closed"


@pytest.mark.timeout(900)  # a hang guard for a machine 3x slower than ours, not a speed goal
def test_random_kills_end_like_the_uninterrupted_run(
    reference: Reference, chaos_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Scenario 1: SIGKILL at seeded random instants, restart with the same command until a
    run ends by itself; rounds of that until at least 20 kills."""
    rng = random.Random(SEED)
    url = chaos_emulator.url
    clean_slate(url)
    span = max(reference.duration, 1.5)
    kills: list[str] = []
    deadline = time.monotonic() + 840  # a hang guard (below the timeout), not a speed goal
    n_round = 0
    while len(kills) < MIN_KILLS:
        n_round += 1
        folder = tmp_path / f"round{n_round}"
        state, logs = folder / "state", folder / "logs"
        env = bot_env(logs)
        for restart in range(40):
            assert time.monotonic() < deadline, f"hung? only {len(kills)} kills so far"
            console = folder / f"console-{restart}.txt"
            code = run_until(paper_args(url, state), env, console, rng.uniform(0.5, span))
            output = console.read_text(encoding="utf-8")
            assert code in (0, -9), f"round {n_round}, start {restart}: exit {code}\n{output}"
            if code == 0:
                assert_same_as_reference(outcome(url, state), reference.outcome)
                for run in runs(read_events(logs)):  # every line parses, every run starts
                    assert run[0]["event"] == "run_start"
                break
            # The state database opens (and passes its checks) after every kill.
            db = state / "state.sqlite"
            kills.append(phase(snapshot(state).last_bar_ts) if db.exists() else "start-up")
        else:
            pytest.fail(f"round {n_round} never finished by itself")
    print(f"\n{len(kills)} kills in {n_round} rounds: " + ", ".join(
        f"{p} {kills.count(p)}" for p in ("start-up", "flat", "long", "closed")
    ))  # fmt: skip
    assert len(set(kills) - {"start-up"}) >= 2, f"kills did not spread over the replay: {kills}"


def test_kill_after_the_broker_accepted_the_buy_before_the_bot_recorded_it(
    reference: Reference, chaos_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Scenario 2, deterministic: the emulator creates the buy and holds back its answer;
    the bot is killed while waiting for it, with the order at the broker and only the
    intent in its state. The restart must find the order by client order id."""
    url = chaos_emulator.url
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    clean_slate(url)
    admin(url, "faults", {"drop_next": 1, "drop_hold_s": 30})
    proc = start_bot(paper_args(url, state), env)
    try:
        wait_for("the buy at the broker", lambda: BUY in admin(url, "stats")["orders_created"], 30)
        proc.kill()
        assert proc.wait(10) == -9
    finally:
        stop_quietly(proc)
    assert [(o[0], o[3]) for o in snapshot(state).orders] == [(BUY, "intent")]  # the gap
    assert admin(url, "faults")["drop_next"] == 0
    out = run_bot(paper_args(url, state), env)
    assert out.returncode == 0, out.stdout + out.stderr
    stats = admin(url, "stats")
    assert stats["order_posts"][BUY] == 1  # found by its id, never sent again
    assert_same_as_reference(outcome(url, state), reference.outcome)
    restart = runs(read_events(logs))[-1]
    found = [e for e in of_kind(restart, "order") if e["client_order_id"] == BUY]
    assert found and found[0].get("how") == "settled", found


def test_kill_after_the_broker_filled_the_buy_before_the_bot_booked_it(
    reference: Reference, chaos_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The bot moved the emulator's clock past the 2026-01-14 open (the buy filled there)
    and is killed before it reads the fill back (its broker calls are slowed to 1 s each
    for that moment). The restart books the fill once, at the bar it happened in."""
    url = chaos_emulator.url
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    clean_slate(url)
    fill_bar_close = datetime(2026, 1, 14, 21, 0, tzinfo=UTC)  # 16:00 ET

    def emulator_now() -> datetime:
        return datetime.fromisoformat(admin(url, "state")["now"].replace("Z", "+00:00"))

    proc = start_bot(paper_args(url, state), env)
    try:
        wait_for("the buy at the broker", lambda: BUY in admin(url, "stats")["orders_created"], 30)
        admin(url, "faults", {"delay_s": 1.0})
        wait_for("the fill bar", lambda: emulator_now() >= fill_bar_close, 30)
        proc.kill()
        assert proc.wait(10) == -9
    finally:
        stop_quietly(proc)
        admin(url, "faults", {"delay_s": 0.0})
    assert emulator_now() == fill_bar_close
    assert [(o[0], o[3]) for o in broker_orders(url)] == [(BUY, "filled")]
    assert snapshot(state).fills == []  # the gap: filled at the broker, not booked
    out = run_bot(paper_args(url, state), env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_same_as_reference(outcome(url, state), reference.outcome)
    trades = of_kind(runs(read_events(logs))[-1], "trade")
    assert [t["entry_time"][:10] for t in trades] == [EXP.buy_day.isoformat()]


def test_entry_left_in_doubt_by_a_crash_does_not_block_later_entries(
    reference: Reference, chaos_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """A crash during a broker outage leaves an entry in doubt (status 'unknown': sent,
    never confirmed) from an old signal, and the broker never got it. The restart abandons
    it (its signal is stale) and must not count it as pending: the January breakout is
    still bought, and everything else equals the reference."""
    from bot.models import OrderIntent, Side
    from bot.store.state import StateStore

    url = chaos_emulator.url
    state, logs = tmp_path / "state", tmp_path / "logs"
    env = bot_env(logs)
    clean_slate(url)
    first = [*paper_args(url, state)[:-4], "--to", "2025-12-19", "--speed", 0]
    out = run_bot(first, env)
    assert out.returncode == 0, out.stdout + out.stderr
    lost = "lb-BABA-r163.43-20251216T0000-buy"
    store = StateStore(state / "state.sqlite")
    signal_ts = int(store.bars()[-4].ts)  # 2025-12-16, three bars before the last
    assert ns_day(signal_ts).isoformat() == "2025-12-16"
    store.record_intent(
        OrderIntent(lost, "BABA", Side.BUY, 10, purpose="entry", signal_ts=signal_ts)
    )
    store.update_order(lost, status="unknown")
    store.close()
    out = run_bot(paper_args(url, state), env)
    assert out.returncode == 0, out.stdout + out.stderr
    got = outcome(url, state)
    assert got.state_orders[0][:4] == (lost, "buy", 10, "abandoned")
    got.state_orders = got.state_orders[1:]
    assert_same_as_reference(got, reference.outcome)
    assert lost not in admin(url, "stats")["order_posts"]


# Loaded by the bot's interpreter (PYTHONPATH) as a fault hook: SIGKILL inside the
# creation of a new state database, right after the file is opened ("empty file") or
# right after the WAL header is written ("header only").
KILL_HOOK = """
import os, signal, sqlite3

_connect = sqlite3.connect
_WHEN = os.environ.get("KILL_IN_STATE_CREATION")


class _Conn(sqlite3.Connection):
    def execute(self, sql, *args):
        cur = super().execute(sql, *args)
        if _WHEN == "header only" and "journal_mode" in sql:
            cur.close()  # the statement done, as when StateStore drops the cursor
            os.kill(os.getpid(), signal.SIGKILL)
        return cur


def connect(database, *args, **kwargs):
    name = os.path.basename(str(database))
    if not name.startswith("state.sqlite") or os.path.exists(database):
        return _connect(database, *args, **kwargs)
    conn = _connect(database, *args, factory=_Conn, **kwargs)
    if _WHEN == "empty file":
        os.kill(os.getpid(), signal.SIGKILL)
    return conn


sqlite3.connect = connect
"""


@pytest.mark.parametrize("when", ["empty file", "header only"])
def test_kill_while_the_first_start_creates_the_state_database(
    reference: Reference, chaos_emulator: EmulatorServer, tmp_path: Path, when: str
) -> None:
    """The first start is killed (by a fault hook in its interpreter) while it creates the
    state database. Nothing was ever recorded, so the restart must run the replay."""
    url = chaos_emulator.url
    state, logs, hook = tmp_path / "state", tmp_path / "logs", tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK, encoding="utf-8")
    clean_slate(url)
    env = bot_env(logs)
    killed = run_bot(
        paper_args(url, state),
        {**env, "PYTHONPATH": str(hook), "KILL_IN_STATE_CREATION": when},
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr  # the hook fired
    out = run_bot(paper_args(url, state), env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_same_as_reference(outcome(url, state), reference.outcome)
