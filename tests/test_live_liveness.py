"""Liveness of the paper runner (issue 10, items 8, 9, 11, 13): transient broker faults
never end the run, a broker that cannot be reached ends the start with one message,
Ctrl-C and SIGTERM end any phase at once with 130/143, `bot status` tells a running bot
from a dead one, and a second runner is refused before it imports the heavy modules.

The bot runs for real: in-process (PaperRunner + ReplayFeed + alpaca-py) where faults
are timed to bars, as the `bot` command in a subprocess where signals and exit codes
are the point. The broker is the emulator on 127.0.0.1, faults set on its admin routes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bot import events as ev
from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.emulator.client import EmulatorAdmin
from bot.events.sinks import Publisher, Recorder
from bot.live.feeds import ReplayFeed
from bot.live.retry import Retrier
from bot.live.runner import PaperRunner
from bot.models import Bar, ns_to_et
from bot.settings import Settings
from tests.test_paper_support import BOT, bot_env, finish, stop_quietly, wait_for

pytestmark = pytest.mark.slow  # the real `bot` command in subprocesses, minutes of faults

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KEY, SECRET = "emulator-key", "emulator-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them
START = datetime(2025, 12, 12, 21, 0, tzinfo=UTC)  # 16:00 ET, the close before the replay


def admin(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    r = (
        requests.post(f"{url}/_emulator/{route}", json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(f"{url}/_emulator/{route}", timeout=10, headers=ADMIN)
    )
    r.raise_for_status()
    return r.json()


# ---------------------------------------------------------------- item 8: storms


class HookFeed(ReplayFeed):
    def __init__(
        self, series: BarSeries, admin: EmulatorAdmin, hooks: dict[str, Callable[[], None]]
    ) -> None:
        super().__init__(series, admin)
        self.hooks = dict(hooks)

    def before_bar(self, bar: Bar) -> None:
        hook = self.hooks.pop(ns_to_et(bar.ts).date().isoformat(), None)
        if hook is not None:
            hook()
        super().before_bar(bar)


def replay_settings(url: str, tmp: Path) -> Settings:
    return load_settings(
        None,
        {
            "broker": {"slippage_bps": 0.0},
            "alpaca": {
                "trading_url": url,
                "data_url": url,
                "read_timeout_s": 1.0,
                "connect_timeout_s": 1.0,
                "backoff_base_s": 0.05,
                "backoff_cap_s": 3.0,  # so the run resumes soon after each fault ends
            },
            "paper": {
                "state_dir": str(tmp / "state"),
                "log_dir": str(tmp / "logs"),
                "halt_file": str(tmp / "state" / "HALT"),
                "replay_from": "2025-12-15",
            },
        },
    )


def storm_run(
    market: Any, tmp: Path, hooks: Callable[[list[EmulatorServer]], dict[str, Callable[[], None]]]
) -> list[tuple[str, str, float, float]]:
    """The default rules over 2025-12-15..2026-02-20 (the one round trip); returns the
    broker's fills (client order id, side, qty, price)."""
    state = EmulatorState(market, START, slippage_bps=0.0)
    servers = [EmulatorServer(state, Faults(seed=3), api_key=KEY, secret_key=SECRET).start()]
    url = servers[0].url
    try:
        s = replay_settings(url, tmp)
        series = load_csv(DATA / "BABA_1d.csv").bars
        api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
        feed = HookFeed(
            series,
            EmulatorAdmin(url, keys=(KEY, SECRET), retrier=Retrier(0.05, 3.0)),
            hooks(servers),
        )
        PaperRunner(s, api, feed, "emulator").run()
        return [
            (o["client_order_id"], o["side"], o["filled_qty"], o["filled_avg_price"])
            for o in admin(url, "state")["orders"]
            if o["filled_qty"]
        ]
    finally:
        servers[-1].stop()


def later(seconds: float, action: Callable[[], None]) -> None:
    t = threading.Timer(seconds, action)
    t.daemon = True
    t.start()


def test_a_90s_429_storm_a_60s_black_hole_and_an_emulator_restart_are_survived(
    tmp_path: Path,
) -> None:
    """Each fault starts before a quiet bar (nothing to send, only reads): the run waits
    them out and ends with the fills of the fault-free run (expected by hand from the
    CSV: 149 bought at the 2026-01-14 open 171.57, sold at the 2026-02-06 open 160.46)."""
    market = EmulatorState.from_dir(DATA, START).market
    expected = [
        ("lb-BABA-r163.43-20260113T0000-buy", "buy", 149.0, 171.57),
        ("lb-BABA-r163.43-20260205T0000-sell", "sell", 149.0, 160.46),
    ]
    assert storm_run(market, tmp_path / "ref", lambda servers: {}) == expected
    seen: dict[str, Any] = {}

    def hooks(servers: list[EmulatorServer]) -> dict[str, Callable[[], None]]:
        url = servers[0].url

        def storm() -> None:
            admin(url, "faults", {"error_rate": 1.0, "error_codes": [429]})
            later(90.0, lambda: admin(url, "faults", {"error_rate": 0.0}))

        def hole() -> None:
            admin(url, "faults", {"black_hole": True, "drop_hold_s": 5.0})
            later(60.0, lambda: admin(url, "faults", {"black_hole": False}))

        def restart() -> None:
            seen["before_restart"] = admin(url, "stats")["requests"]
            old = servers[-1]
            old.stop()

            def again() -> None:
                servers.append(
                    EmulatorServer(
                        old.state, Faults(), port=old.port, api_key=KEY, secret_key=SECRET
                    ).start()
                )

            later(5.0, again)

        return {"2025-12-17": storm, "2025-12-22": hole, "2025-12-29": restart}

    assert storm_run(market, tmp_path / "faults", hooks) == expected
    import json

    evs = [json.loads(x) for x in (tmp_path / "faults/logs/events.jsonl").read_text().splitlines()]
    retries = [e for e in evs if e["event"] == "retry"]
    # the storm really lasted: about one 429 a second (X-RateLimit-Reset is 1 s ahead)
    assert sum("429" in str(e.get("error")) for e in retries) >= 30
    assert any("Timeout" in str(e.get("error")) for e in retries)
    assert any("ConnectionError" in str(e.get("error")) for e in retries)
    assert not [e for e in evs if e["event"] == "error"]
    assert evs[-1]["event"] == "run_end" and evs[-1]["stopped"] is False


# ---------------------------------------------------------------- items 9, 11, 13: the command


def live_env(tmp: Path, url: str, **extra: str) -> dict[str, str]:
    return bot_env(
        tmp / "logs",
        ALPACA_API_KEY=KEY,
        ALPACA_SECRET_KEY=SECRET,
        BOT_ALPACA__TRADING_URL=url,
        BOT_ALPACA__DATA_URL=url,
        BOT_PAPER__STATE_DIR=str(tmp / "state"),
        BOT_PAPER__HALT_FILE=str(tmp / "state" / "HALT"),
        **extra,
    )


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BOT), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


@pytest.fixture
def live_emulator() -> Iterator[EmulatorServer]:
    """The broker at 12:00 ET on 2026-02-10, a session day: a live bot warms up and then
    waits for the close."""
    state = EmulatorState.from_dir(DATA, datetime(2026, 2, 10, 17, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


def test_unreachable_broker_fails_start_with_one_message(
    tmp_path: Path, live_emulator: EmulatorServer
) -> None:
    """A broker that takes connections and never answers: the start gives up after its
    budget (5 s here) with one line and exit 5, not a traceback after minutes."""
    admin(live_emulator.url, "faults", {"black_hole": True, "drop_hold_s": 60.0})
    env = live_env(tmp_path, live_emulator.url, BOT_ALPACA__STARTUP_TIMEOUT_S="5")
    r = subprocess.run(
        [str(BOT), "paper", "--broker", "alpaca"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    admin(live_emulator.url, "faults", {"black_hole": False})
    out = r.stdout + r.stderr
    assert r.returncode == 5, out
    assert "cannot reach the broker" in out and "reading the account" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_ends_it_at_once(
    tmp_path: Path, live_emulator: EmulatorServer, sig: signal.Signals
) -> None:
    """A signal while the start-up hangs on a silent broker: exit 143/130 in moments."""
    admin(live_emulator.url, "faults", {"black_hole": True, "drop_hold_s": 60.0})
    proc = start(["paper", "--broker", "alpaca"], live_env(tmp_path, live_emulator.url))
    try:
        wait_for("the first request", lambda: admin(live_emulator.url, "stats")["requests"] > 0, 30)
        proc.send_signal(sig)
        code, out = finish(proc, timeout=10)
    finally:
        stop_quietly(proc)
        admin(live_emulator.url, "faults", {"black_hole": False})
    assert code == (143 if sig == signal.SIGTERM else 130), out
    last = out.strip().splitlines()[-1]
    assert f"Interrupted ({sig.name})" in last and "bot paper --broker alpaca" in last, out
    assert "Traceback" not in out


def test_waiting_bot_is_running_in_status_and_stops_on_ctrl_c(
    tmp_path: Path, live_emulator: EmulatorServer
) -> None:
    """A live bot waits for the close with a fresh heartbeat: `bot status` says running.
    Ctrl-C ends the wait at once (130); after a kill -9 status says not running."""
    env = live_env(tmp_path, live_emulator.url, BOT_PAPER__HEARTBEAT_S="1")
    state = tmp_path / "state"
    proc = start(["paper", "--broker", "alpaca"], env)
    try:
        wait_for("the heartbeat", (state / "heartbeat").exists, 60)
        status = subprocess.run(
            [str(BOT), "status", "--state-dir", str(state)], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "running (pid" in status.stdout and "waiting for the 2026-02-10 close" in (
            status.stdout
        ), status.stdout
        proc.send_signal(signal.SIGINT)
        code, out = finish(proc, timeout=10)
    finally:
        stop_quietly(proc)
    assert code == 130, out
    assert "Interrupted (SIGINT)" in out.strip().splitlines()[-1], out
    # a runner that dies without a word (kill -9) leaves a heartbeat that only ages
    proc = start(["paper", "--broker", "alpaca"], env)
    try:
        before = (state / "heartbeat").stat().st_mtime
        wait_for("a new heartbeat", lambda: (state / "heartbeat").stat().st_mtime > before, 60)
        proc.kill()
        proc.wait(10)
    finally:
        stop_quietly(proc)
    time.sleep(0.2)
    status = subprocess.run(
        [str(BOT), "status", "--state-dir", str(state)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "not running" in status.stdout and f"process {proc.pid} gone" in status.stdout


def test_second_runner_is_refused_before_heavy_imports_and_sends_nothing(
    tmp_path: Path, live_emulator: EmulatorServer
) -> None:
    env = live_env(tmp_path, live_emulator.url)
    state = tmp_path / "state"
    first = start(["paper", "--broker", "alpaca"], env)
    try:
        wait_for("the first runner waiting", (state / "heartbeat").exists, 60)
        # The first runner polls the broker while it waits (the clock, its orders); frozen,
        # it keeps its lock but sends nothing, so any request counted below is the second's.
        # The pause lets a request the first had in flight land before the count is read.
        first.send_signal(signal.SIGSTOP)
        time.sleep(0.5)
        before = admin(live_emulator.url, "stats")
        second = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "bot", "paper", "--broker", "alpaca"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        after = admin(live_emulator.url, "stats")
    finally:
        first.send_signal(signal.SIGCONT)
        first.send_signal(signal.SIGTERM)
        finish(first, timeout=10)
        stop_quietly(first)
    assert second.returncode == 3, second.stdout + second.stderr
    assert "another bot is already running" in second.stdout + second.stderr
    assert after["requests"] == before["requests"]  # not one request from the second
    imported = [line.split("|")[-1].strip() for line in second.stderr.splitlines() if "|" in line]
    heavy = [m for m in imported if m.split(".")[0] in ("alpaca", "pandas", "fastapi", "numpy")]
    assert heavy == [], heavy[:5]


def test_file_modes_are_owner_only(tmp_path: Path) -> None:
    """Item 16: state, logs and run folders 0700, their files 0600."""
    env = bot_env(tmp_path / "logs")
    state, runs = tmp_path / "state", tmp_path / "runs"
    r = subprocess.run(
        [str(BOT), "paper", "--fresh", "--state-dir", str(state), "--from", "2026-02-01"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [str(BOT), "backtest", "--from", "2026-01-01", "--out", str(runs / "bt")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    checked = 0
    for top in (state, tmp_path / "logs", runs):
        for path in [top, *top.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            want = 0o700 if path.is_dir() else 0o600
            assert mode == want, f"{path}: {oct(mode)}"
            checked += 1
    assert checked >= 10
    assert os.stat(state / "state.sqlite").st_mode & 0o077 == 0


# ---------------------------------------------------------------- item 8: odd transport faults


def test_a_body_cut_off_mid_way_is_retried_not_a_traceback() -> None:
    """A proxy that closes the connection in the middle of a chunked body: requests raises
    ChunkedEncodingError, which once ended the process. It is a transient fault now: the
    read is retried, and the third answer (a whole one) is used."""
    import socket

    from bot.broker.live import LiveBroker
    from bot.settings import AlpacaConfig
    from bot.store.state import StateStore

    clock = (
        b'{"timestamp":"2026-02-10T12:00:00-05:00","is_open":true,'
        b'"next_open":"2026-02-11T09:30:00-05:00","next_close":"2026-02-10T16:00:00-05:00"}'
    )
    served: list[int] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while len(served) < 3:
            conn, _ = srv.accept()
            conn.recv(65536)
            served.append(1)
            if len(served) < 3:  # a chunk announced as 0x40 bytes, then the line drops
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n40\r\n" + clock[:20]
                )
            else:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(clock)).encode() + b"\r\nConnection: close\r\n\r\n" + clock
                )  # fmt: skip
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    cfg = AlpacaConfig(trading_url=url, read_timeout_s=2.0, backoff_base_s=0.001)
    api = AlpacaApi(cfg, "k", "s", limiter=RateLimiter(10**9))
    seen = Recorder()
    events = Publisher([seen])
    broker = LiveBroker(
        api, StateStore(Path(os.environ.get("TMPDIR", "/tmp")) / f"cut-{os.getpid()}.sqlite"),
        "BABA", events=events, retrier=Retrier(0.001, 0.01, events=events),
    )  # fmt: skip
    got = broker.clock()
    srv.close()
    assert got["is_open"] is True and len(served) == 3
    assert [e.error for e in seen.events if isinstance(e, ev.Retry)] == [
        "InDoubt ChunkedEncodingError",
        "InDoubt ChunkedEncodingError",
    ]


def test_a_data_plan_refusal_is_one_message(tmp_path: Path, live_emulator: EmulatorServer) -> None:
    """The free plan refuses SIP data of the last 15 minutes; asking for it (sip_delay_s
    = 0) ends the start with one message that says which setting to change."""
    admin(live_emulator.url, "config", {"data_plan": "free"})
    env = live_env(tmp_path, live_emulator.url, BOT_ALPACA__SIP_DELAY_S="0")
    r = subprocess.run(
        [str(BOT), "paper", "--broker", "alpaca"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "subscription does not permit querying recent SIP data" in out
    assert "sip_delay_s = 900" in out and "Traceback" not in out
    assert admin(live_emulator.url, "stats")["order_posts"] == {}


# ---------------------------------------------------------------- item 9: other commands


def test_ctrl_c_ends_bot_logs_follow_and_sigterm_bot_emulator(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.jsonl").write_text(
        '{"time":"2026-01-01T00:00:00+00:00","run_id":"a","event":"bar"}\n'
    )
    env = bot_env(logs)
    proc = start(["logs", "--follow"], env)
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        code, out = finish(proc, timeout=10)
    finally:
        stop_quietly(proc)
    assert code == 130 and "interrupted (SIGINT)" in out.strip().splitlines()[-1], out
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start(["emulator", "--port", str(port)], env)
    try:
        wait_for("the emulator", lambda: _listening(port), 30)
        proc.send_signal(signal.SIGTERM)
        code, out = finish(proc, timeout=10)
    finally:
        stop_quietly(proc)
    assert code == 143 and "interrupted (SIGTERM)" in out.strip().splitlines()[-1], out
    assert "Traceback" not in out


def _listening(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/v2/clock", timeout=1)
    except requests.RequestException:
        return False
    return True
