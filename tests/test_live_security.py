"""Security of the paper bot (issue 10, items 14, 15, 17): keys read from `.env` are
redacted like those in the environment; the emulator binds loopback only and its admin
routes need the account's keys; `bot paper --emulator-url` sends the keys `bot
emulator` accepts. Canary keys: no 6-character piece of them may appear anywhere."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bot.config_load import ConfigError, load_settings
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.events.journal import Journal, setup_logging
from tests.test_paper_support import BOT, bot_env

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "PKq7Zc2LmW9tRx", "sEc8qZr4Wk2Lp9Xn3Bc7Dv"  # canaries


def pieces(secret: str) -> list[str]:
    return [secret[i : i + 6] for i in range(len(secret) - 5)]


def leaks(text: str) -> list[str]:
    return [p for s in (KEY, SECRET) for p in pieces(s) if p in text]


@pytest.fixture
def dotenv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose `.env` holds the keys; the environment holds none."""
    (tmp_path / ".env").write_text(f"ALPACA_API_KEY={KEY}\nALPACA_SECRET_KEY={SECRET}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_keys_only_in_dotenv_are_redacted_from_logs_and_journal(
    dotenv_dir: Path, restore_root_logging: None
) -> None:
    s = load_settings(None)
    assert s.alpaca_api_key is not None and s.alpaca_api_key.get_secret_value() == KEY
    logs = dotenv_dir / "logs"
    setup_logging(logs, level="DEBUG")
    log = logging.getLogger("bot.test")
    log.error("a line with the key %s and the secret %s", KEY, SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        log.exception("a traceback that holds the secret")
    journal = Journal(logs / "events.jsonl")
    journal.event("error", detail=f"key={KEY}")
    journal.flush()
    logging.shutdown()
    text = "\n".join(p.read_text() for p in logs.iterdir())
    assert "[REDACTED]" in text
    assert leaks(text) == []


@pytest.fixture
def keyed_emulator() -> Iterator[EmulatorServer]:
    state = EmulatorState.from_dir(ROOT / "data", datetime(2025, 8, 29, 20, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_emulator_url_uses_the_keys_bot_emulator_accepts(
    tmp_path: Path, keyed_emulator: EmulatorServer
) -> None:
    """Keys in `.env` (as the README recommends): `bot emulator` accepts them, so
    `bot paper --emulator-url` must send them (not its built-in test keys: a 401)."""
    (tmp_path / ".env").write_text(f"ALPACA_API_KEY={KEY}\nALPACA_SECRET_KEY={SECRET}\n")
    env = bot_env(tmp_path / "logs", BOT_PAPER__STATE_DIR=str(tmp_path / "state"))
    r = subprocess.run(
        [str(BOT), "paper", "--emulator-url", keyed_emulator.url, "--from", "2026-01-02"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Done:" in out and "2 fill(s)" in out  # the replay traded: bought and sold
    written = "\n".join(
        p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()
        and p.name != ".env" and not p.name.startswith("state.sqlite")
    )  # fmt: skip
    assert leaks(out + written) == []


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", "::"])
def test_emulator_binds_loopback_only(host: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        load_settings(None, {"emulator": {"host": host}})
    cfg = tmp_path / "bad.toml"
    base = (ROOT / "tests" / "fixtures" / "base.toml").read_text()
    cfg.write_text(base.replace('host = "127.0.0.1"', f'host = "{host}"'))
    r = subprocess.run(
        [str(BOT), "emulator", "--config", str(cfg)], cwd=ROOT,
        env=bot_env(tmp_path / "logs"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "emulator.host" in r.stderr and "loopback" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert load_settings(None, {"emulator": {"host": host}}).emulator.host == host


def test_admin_routes_need_the_account_keys(keyed_emulator: EmulatorServer) -> None:
    url = f"{keyed_emulator.url}/_emulator"
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    wrong = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": "nope"}
    for method, route, body in (
        ("GET", "state", None),
        ("GET", "stats", None),
        ("POST", "faults", {"error_rate": 0.0}),
        ("POST", "reset", {}),
        ("POST", "advance", {"until": "2025-09-02T16:00:00-04:00"}),
        ("POST", "position", {"symbol": "BABA", "qty": 0}),
    ):
        for h in (None, wrong):
            r = requests.request(method, f"{url}/{route}", json=body, headers=h, timeout=10)
            assert r.status_code == 401, (method, route, r.status_code)
            assert r.json()["code"] == 40110000
        r = requests.request(method, f"{url}/{route}", json=body, headers=headers, timeout=10)
        assert r.status_code == 200, (method, route, r.text)
