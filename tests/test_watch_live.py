"""`bot watch` end to end (issue 15 items 1, 2 and 6): the `bot` command in a subprocess,
the real alpaca-py StockDataStream and REST clients against the emulator, alerts through
Apprise to a local json:// receiver.

The emulator replays a scripted 2026-01-29 morning of BABA minute bars (written here)
and BABA's real daily bars; the watched level is 200. The tiers' rules
(bot/alerts/tiers.py, approach and re-arm distances 1 %) applied by hand to the script:

- 09:40 close 198.50, 0.75 % below 200: approaching (up);
- 09:42 high 201.00, close 199.50: crossed up, provisional (closed below);
- 09:43 high 200.50 again: nothing (the cross re-arms only 1 % away);
- 09:44 close 197.00, 1.5 % away: the cross re-arms (too far for approaching);
- 09:52 high 202.00, close 201.00: crossed up (closed above: a break);
- 09:55 close 199.00, back below: failed;
- then flat at 199.00: nothing (approaching is disarmed until 2 % away).

The stream goes silent (the emulator's `silent` fault) after the 09:44 bar is sent: the
09:52 and 09:55 alerts can only come from the REST fallback; the dead-man alert is sent
once, and `stream_restored` once the stream brings a bar again. At the close the 01-29
daily bar (close 174.25, far below 200) confirms nothing; the day's summary follows.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.models import ET
from tests.alert_receiver import Receiver, alert_ids

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
BOT = ROOT / ".venv" / "bin" / "bot"
BASE = ROOT / "tests" / "fixtures" / "base.toml"
KEY, SECRET = "watch-key", "watch-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
DAY = (2026, 1, 29)
LEVEL = 200.0
PASSWORD = "s3cr3t-hook-passw0rd"  # in the alert URL: never in a log, event or state row


def et(hh: int, mm: int) -> datetime:
    return datetime(*DAY, hh, mm, tzinfo=ET)


def script() -> list[tuple[str, float, float, float, float]]:
    """(HH:MM, open, high, low, close) of each scripted minute, 09:30 to 10:29."""
    rows: list[tuple[str, float, float, float, float]] = []
    for m in range(60):
        t = et(9, 30) + timedelta(minutes=m)
        hm = t.strftime("%H:%M")
        if m < 10:
            bar = (190.0, 190.2, 189.8, 190.0)
        elif hm == "09:40":
            bar = (190.0, 198.6, 190.0, 198.5)
        elif hm == "09:41":
            bar = (198.5, 198.9, 198.4, 198.8)
        elif hm == "09:42":
            bar = (198.8, 201.0, 198.7, 199.5)
        elif hm == "09:43":
            bar = (199.5, 200.5, 199.2, 199.4)
        elif "09:44" <= hm <= "09:51":
            bar = (199.4 if hm == "09:44" else 197.0, 199.4 if hm == "09:44" else 197.2,
                   196.8, 197.0)  # fmt: skip
        elif hm == "09:52":
            bar = (197.0, 202.0, 197.0, 201.0)
        elif hm in ("09:53", "09:54"):
            bar = (201.0, 201.5, 200.5, 201.2)
        elif hm == "09:55":
            bar = (201.0, 201.0, 198.5, 199.0)
        else:
            bar = (199.0, 199.2, 198.8, 199.0)
        rows.append((hm, *bar))
    return rows


@pytest.fixture
def market(tmp_path: Path) -> Path:
    d = tmp_path / "market"
    d.mkdir()
    shutil.copy(ROOT / "data" / "BABA_1d.csv", d / "BABA_1d.csv")
    lines = ["timestamp,open,high,low,close,volume"]
    for hm, o, h, lo, c in script():
        lines.append(f"2026-01-29T{hm}:00,{o},{h},{lo},{c},1000")
    (d / "BABA_1m_2026-01-29.csv").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture
def server(market: Path) -> Iterator[EmulatorServer]:
    state = EmulatorState.from_dir(market, et(9, 30).astimezone(UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def config(tmp: Path) -> Path:
    path = tmp / "watch.toml"
    path.write_text(BASE.read_text() + f"\n[watchlist.BABA]\nlevels = [{LEVEL}]\n")
    return path


def environment(tmp: Path, url: str, receiver: Receiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ALPACA_"))}
    env.update(
        BOT_CONFIG=str(config(tmp)),
        ALPACA_API_KEY=KEY,
        ALPACA_SECRET_KEY=SECRET,
        BOT_ALPACA__TRADING_URL=url,
        BOT_ALPACA__DATA_URL=url,
        BOT_WATCH__STATE_DIR=str(tmp / "watch"),
        BOT_WATCH__CLOCK_S="0.2",
        BOT_WATCH__SILENT_S="3",
        BOT_WATCH__POLL_S="0.5",
        BOT_PAPER__LOG_DIR=str(tmp / "logs"),
        BOT_PAPER__SETTLE_DELAY_S="0",
        BOT_ALERTS__RATE_PER_MINUTE="1000",
        BOT_ALERT_URLS_DEFAULT=receiver.url.replace("json://", f"json://watcher:{PASSWORD}@"),
    )
    return env


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = requests.post(f"{url}/_emulator/{path}", json=body or {}, headers=ADMIN, timeout=10)
    r.raise_for_status()
    return r.json()


def advance(url: str, until: datetime) -> None:
    admin(url, "advance", {"until": until.astimezone(UTC).isoformat()})


def subscribed(url: str) -> bool:
    r = requests.get(f"{url}/_emulator/datastream", headers=ADMIN, timeout=5).json()
    return any(c["authenticated"] and c.get("bars") == ["BABA"] for c in r["connections"])


def titles(receiver: Receiver) -> list[str]:
    return [str(p.get("title", "")) for p in receiver.received()]


def body_times(receiver: Receiver, kind_words: str) -> list[str]:
    """The ET times (HH:MM) in the bodies of the alerts whose title holds `kind_words`."""
    out = []
    for p in receiver.received():
        if kind_words in str(p.get("title", "")):
            m = re.search(r"2026-01-29 (\d\d:\d\d) ET", str(p.get("message", "")))
            out.append(m.group(1) if m else "?")
    return out


def wait(proc: subprocess.Popen[str], what: str, cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc.poll() is not None:
            raise AssertionError(f"bot watch ended ({proc.returncode}) before {what}: "
                                 f"{proc.communicate()[0]}")  # fmt: skip
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    raise AssertionError(f"timed out waiting for {what}: {proc.communicate(timeout=30)[0]}")


def test_watch_alerts_live_falls_back_to_rest_when_silent_and_sends_each_alert_once(
    tmp_path: Path, server: EmulatorServer, receiver: Receiver
) -> None:
    env = environment(tmp_path, server.url, receiver)
    proc = subprocess.Popen(
        [str(BOT), "watch", "--sessions", "1"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        heartbeat = tmp_path / "watch" / "heartbeat"
        wait(proc, "the watcher in its session", lambda: heartbeat.exists()
             and "watching" in heartbeat.read_text())  # fmt: skip
        wait(proc, "the stream subscribed to BABA's bars", lambda: subscribed(server.url))
        # 09:30-09:44 over the stream: approaching at 09:40, crossed at 09:42
        advance(server.url, et(9, 45))
        wait(proc, "two tier alerts", lambda: len(receiver.received()) >= 2)
        # The stream goes silent, and alpaca-py's reconnects are refused (so a reconnect's
        # catch-up cannot stand in for the polling); the clock moves on to 10:00
        admin(server.url, "datastream", {"silent": True, "refuse_connects": True})
        advance(server.url, et(10, 0))
        wait(proc, "the dead-man alert and the REST fallback's alerts",
             lambda: len(body_times(receiver, "failed back through")) == 1, 90)  # fmt: skip
        # The stream speaks again: a minute at a time (a socket that reconnects sees only
        # the bars after it), until a bar has come over it
        admin(server.url, "datastream", {"silent": False, "refuse_connects": False})
        back = lambda: any("stream back" in t for t in titles(receiver))  # noqa: E731
        for minute in range(1, 30):
            advance(server.url, et(10, minute))
            if back():
                break
            time.sleep(1.0)
        wait(proc, "the stream back", back, 30)
        # The close, and the daily bar (the sip feed's 15 minutes' delay, then some)
        advance(server.url, et(16, 20))
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    ids = [i for p in receiver.received() for i in alert_ids(p)]
    assert len(ids) == len(set(ids)), ids  # each alert once
    assert body_times(receiver, "is approaching 200") == ["09:40"]
    assert body_times(receiver, "crossed up through 200") == ["09:42", "09:52"]
    assert body_times(receiver, "failed back through 200") == ["09:55"]
    assert body_times(receiver, "confirmed") == []
    said = titles(receiver)
    assert said.count("Market-data stream silent") == 1, said
    assert said.count("Market-data stream back") == 1, said
    assert said.count("Watch summary, 2026-01-29") == 1, said
    crossed = [p for p in receiver.received() if "crossed" in str(p.get("title"))]
    assert all("(provisional)" in str(p["title"]) for p in crossed)
    assert "Done: 1 session(s)" in out, out
    # `bot logs` shows the stream's story: connected, silent once, back once
    logs = subprocess.run([str(BOT), "logs", "--event", "data_stream"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert logs.returncode == 0, logs.stdout + logs.stderr
    said = logs.stdout
    assert said.count("status=silent") == 1 and said.count("status=restored") == 1, said
    assert "connected" in logs.stdout, logs.stdout
    # `bot status` of the watcher's state: stopped, the session done, the last minute of the
    # script (10:29), and the 7 alerts above delivered (4 tiers, silent, back, summary)
    status = subprocess.run(
        [str(BOT), "status", "--state-dir", str(tmp_path / "watch")], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert "level watcher" in status.stdout and "not running" in status.stdout, status.stdout
    assert "last session finished: 2026-01-29" in status.stdout, status.stdout
    assert "BABA: last minute 2026-01-29 10:29 ET" in status.stdout, status.stdout
    assert "alerts: 7 delivered" in status.stdout, status.stdout
    # The receiver's password (Apprise URLs carry tokens) is nowhere but in the environment
    for path in [*(tmp_path / "logs").iterdir(), *(tmp_path / "watch").glob("state.sqlite*")]:
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in out


def test_a_watcher_killed_mid_session_sends_what_it_missed_and_nothing_twice(
    tmp_path: Path, server: EmulatorServer, receiver: Receiver
) -> None:
    """kill -9 after the 09:40 and 09:42 alerts; the clock moves to 10:00 while it is
    down; the restarted watcher reads the session's minutes over REST: the minutes up to
    the last one the first run saw are fed silently, the later ones alert (09:52, 09:55),
    and nothing is sent twice."""
    env = environment(tmp_path, server.url, receiver)
    argv = [str(BOT), "watch", "--sessions", "1"]
    first = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait(first, "the stream subscribed", lambda: subscribed(server.url))
        advance(server.url, et(9, 45))
        wait(first, "two tier alerts", lambda: len(receiver.received()) >= 2)
    finally:
        first.kill()
        first.communicate(timeout=30)
    advance(server.url, et(10, 0))
    second = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait(second, "the missed failure", lambda: body_times(receiver, "failed back") != [])
        advance(server.url, et(16, 20))
        out, _ = second.communicate(timeout=90)
    finally:
        if second.poll() is None:
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=30)
    assert second.returncode == 0, out
    ids = [i for p in receiver.received() for i in alert_ids(p)]
    assert len(ids) == len(set(ids)), ids
    assert body_times(receiver, "is approaching 200") == ["09:40"]
    assert body_times(receiver, "crossed up through 200") == ["09:42", "09:52"]
    assert body_times(receiver, "failed back through 200") == ["09:55"]


def test_paper_on_alpaca_sends_the_same_level_alerts(
    tmp_path: Path, server: EmulatorServer, receiver: Receiver
) -> None:
    """`bot paper --broker alpaca` with `[paper] watch = true` (the shipped default) runs the
    same watcher while it waits for the close: the 09:40 and 09:42 alerts arrive, as from
    `bot watch`; the watcher's own `confirmed` tier stays quiet (the run says it)."""
    env = environment(tmp_path, server.url, receiver)
    env.update(BOT_PAPER__WATCH="true", BOT_PAPER__STATE_DIR=str(tmp_path / "paper"),
               BOT_PAPER__HALT_FILE=str(tmp_path / "paper" / "HALT"))  # fmt: skip
    proc = subprocess.Popen(
        [str(BOT), "paper", "--broker", "alpaca"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait(proc, "the watcher subscribed", lambda: subscribed(server.url))
        advance(server.url, et(9, 45))
        wait(proc, "two tier alerts", lambda: len(receiver.received()) >= 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "Traceback" not in out, out
    assert body_times(receiver, "is approaching 200") == ["09:40"]
    assert body_times(receiver, "crossed up through 200") == ["09:42"]
    assert (tmp_path / "paper" / "watch" / "state.sqlite").exists()
