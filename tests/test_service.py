"""`bot service`: the systemd unit it writes (checked by hand and by systemd-analyze when
it is installed) and the health rules, on states built by hand at a fixed time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import PROJECT_ROOT, load_settings
from bot.models import Bar, session_day
from bot.service import unit
from bot.service.health import healthz
from bot.settings import Settings
from bot.store.outbox import NewRow, OutboxStore
from bot.store.state import StateStore

BOT = Path(sys.executable).absolute().parent / "bot"
CONFIG = PROJECT_ROOT / "config" / "default.toml"
# Wednesday 2025-12-03 10:00 ET: the market is open; the 2025-12-02 daily bar is due.
NOW = datetime(2025, 12, 3, 15, 0, tzinfo=UTC).timestamp()
ANALYZE = Path("/usr/bin/systemd-analyze")


def _spec(role: unit.Role, user: bool) -> unit.UnitSpec:
    return unit.UnitSpec(
        role=role,
        user_unit=user,
        bot_exe=BOT,
        workdir=Path("/srv/levelbot"),
        config=Path("/srv/levelbot/config/default.toml"),
        env_file=Path("/srv/levelbot/.env"),
        env=(("BOT_PAPER__STATE_DIR", "/srv/levelbot/state"),),
        run_as="alice",
    )


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_user_watch_unit() -> None:
    lines = _lines(unit.unit_text(_spec("watch", user=True)))
    assert f"ExecStart={BOT} watch --config /srv/levelbot/config/default.toml" in lines
    assert "WorkingDirectory=/srv/levelbot" in lines
    assert "EnvironmentFile=-/srv/levelbot/.env" in lines
    assert "Environment=BOT_PAPER__STATE_DIR=/srv/levelbot/state" in lines
    assert "Restart=on-failure" in lines
    assert "RestartSec=30" in lines
    assert "SuccessExitStatus=143" in lines
    assert "RestartPreventExitStatus=2 3 4" in lines
    assert "KillSignal=SIGTERM" in lines
    assert "WantedBy=default.target" in lines
    assert not any(line.startswith("User=") for line in lines)  # a user unit runs as you
    assert not any("network-online" in line for line in lines)


def test_system_paper_unit() -> None:
    lines = _lines(unit.unit_text(_spec("paper", user=False)))
    want = f"ExecStart={BOT} paper --broker alpaca --config /srv/levelbot/config/default.toml"
    assert want in lines
    assert "User=alice" in lines
    assert "WantedBy=multi-user.target" in lines
    assert "After=network-online.target" in lines
    assert "Restart=on-failure" in lines


def test_awkward_paths_are_quoted() -> None:
    spec = _spec("watch", user=True)
    spec = unit.UnitSpec(**{**spec.__dict__, "config": Path("/srv/my bots/100%/a.toml")})
    text = unit.unit_text(spec)
    assert f'ExecStart={BOT} watch --config "/srv/my bots/100%%/a.toml"' in _lines(text)
    with pytest.raises(unit.UnitError, match="control character"):
        unit.unit_text(unit.UnitSpec(**{**spec.__dict__, "workdir": Path("/a\nb")}))


def test_folders_are_absolute_from_the_project() -> None:
    s = load_settings(CONFIG)
    s.paper.state_dir = "state"
    s.paper.halt_file = "/var/HALT"
    env = dict(unit.folder_env("paper", s, Path("/srv/levelbot")))
    assert env["BOT_PAPER__STATE_DIR"] == "/srv/levelbot/state"
    assert env["BOT_PAPER__HALT_FILE"] == "/var/HALT"
    s.watch.state_dir = "state/../w"
    assert dict(unit.folder_env("watch", s, Path("/p")))["BOT_WATCH__STATE_DIR"] == "/p/w"


def test_env_file_notes() -> None:
    notes = unit.env_file_notes("# c\nexport A=1\nB=x # note\nC='y # kept'\nD=2\n")
    assert notes == [
        "line 2: systemd does not understand `export`; remove it",
        "line 3: systemd keeps a trailing ` # comment` in the value",
    ]


# ------------------------------------------------------------------------- the CLI


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys.env"
    path.write_text("ALPACA_API_KEY=k\nALPACA_SECRET_KEY=s\n")
    return path


def test_cli_writes_the_unit(tmp_path: Path, keys: Path) -> None:
    out = tmp_path / "units"
    args = ["service", "install", "--user", "--for", "watch", "--config", str(CONFIG),
            "--env-file", str(keys), "--out", str(out)]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    text = (out / "levelbot-watch.service").read_text()
    assert f"ExecStart={BOT} watch --config {CONFIG}" in _lines(text)
    assert f"EnvironmentFile=-{keys}" in _lines(text)
    assert f"WorkingDirectory={PROJECT_ROOT}" in _lines(text)
    assert f"Environment=BOT_WATCH__STATE_DIR={PROJECT_ROOT / 'state' / 'watch'}" in _lines(text)
    assert "systemctl --user daemon-reload && systemctl --user enable --now levelbot-watch" in (
        r.output
    )
    assert "journalctl --user -u levelbot-watch" in r.output


def test_cli_dry_run_writes_nothing(tmp_path: Path, keys: Path) -> None:
    out = tmp_path / "units"
    args = ["service", "install", "--for", "paper", "--config", str(CONFIG),
            "--env-file", str(keys), "--out", str(out), "--dry-run"]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert not out.exists()
    assert f"ExecStart={BOT} paper --broker alpaca --config {CONFIG}" in _lines(r.output)
    assert "WantedBy=multi-user.target" in _lines(r.output)


def test_cli_refuses_a_missing_key_file(tmp_path: Path) -> None:
    args = ["service", "install", "--for", "paper", "--env-file", str(tmp_path / "none.env"),
            "--out", str(tmp_path / "units")]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert "does not exist" in r.output
    assert not (tmp_path / "units").exists()
    r = CliRunner().invoke(app, [*args, "--dry-run"])  # a dry run only warns
    assert r.exit_code == 0
    assert "warning: environment file" in r.output
    assert "EnvironmentFile=-" in r.output


def test_cli_refuses_an_unknown_role(keys: Path) -> None:
    r = CliRunner().invoke(app, ["service", "install", "--for", "live", "--env-file", str(keys)])
    assert r.exit_code == 2
    assert "--for must be paper or watch" in r.output


@pytest.mark.parametrize("user", [True, False])
def test_systemd_analyze_accepts_the_unit(tmp_path: Path, user: bool) -> None:
    if not ANALYZE.exists():
        pytest.skip("systemd-analyze is not installed")
    role: unit.Role = "watch" if user else "paper"
    spec = unit.UnitSpec(**{**_spec(role, user).__dict__, "workdir": tmp_path,
                            "run_as": "root", "config": CONFIG})  # fmt: skip
    path = tmp_path / unit.unit_name(role)
    path.write_text(unit.unit_text(spec))
    r = _verify(tmp_path, [path], user)
    # verify exits 0 even on a setting it ignores ("Failed to parse ..., ignoring"), so
    # its output must be empty too.
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "" and r.stdout.strip() == ""


def _verify(tmp_path: Path, paths: list[Path], user: bool) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` of unit files, for the user manager or the system's."""
    env = dict(os.environ)
    cmd = [str(ANALYZE), "verify", "--man=no", *map(str, paths)]
    if user:  # a user manager wants a runtime folder; a container may have none
        runtime = tmp_path / "xdg"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        cmd.insert(1, "--user")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def test_systemd_analyze_catches_a_missing_executable(tmp_path: Path) -> None:
    if not ANALYZE.exists():
        pytest.skip("systemd-analyze is not installed")
    spec = unit.UnitSpec(**{**_spec("paper", False).__dict__, "bot_exe": tmp_path / "no-bot",
                            "workdir": tmp_path, "run_as": "root"})  # fmt: skip
    path = tmp_path / "levelbot-paper.service"
    path.write_text(unit.unit_text(spec))
    r = _verify(tmp_path, [path], user=False)
    assert r.returncode != 0
    assert "no-bot" in r.stderr


# ---------------------------------------------------------------------------- health


def _settings(tmp_path: Path) -> Settings:
    s = load_settings(CONFIG)
    s.paper.log_dir = str(tmp_path / "logs")
    s.paper.heartbeat_s = 15.0  # limit 50 s
    return s


def _beat(state: Path, age: float, pid: int | None = None) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "heartbeat").write_text(f"{NOW - age:.3f} {pid or os.getpid()} trading\n")


def _paper_state(state: Path, s: Settings, day: date) -> None:
    state.mkdir(parents=True, exist_ok=True)
    ts = int(datetime(day.year, day.month, day.day, 5, tzinfo=UTC).timestamp() * 1e9)  # 00:00 ET
    store = StateStore(state / "state.sqlite", s.symbol)
    try:
        store.add_bar_result(Bar(ts, 1, 1, 1, 1, 1, session_day(day), s.symbol), 1e5, 1e5, 0)
    finally:
        store.close()


def _watch_state(state: Path, minute_age_s: float) -> None:
    state.mkdir(parents=True, exist_ok=True)
    store = StateStore(state / "state.sqlite")
    try:
        store.set_meta("role", "watch")
        store.set_meta("symbols", "BABA,NIO")
        store.set_meta("last_minute:BABA", str(int((NOW - minute_age_s) * 1e9)))
        store.set_meta("last_minute:NIO", str(int((NOW - 3000) * 1e9)))
    finally:
        store.close()


def _journal(s: Settings, *events: dict[str, object]) -> None:
    logs = Path(s.paper.log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"time": "2025-12-03T14:50:00+00:00", "run_id": "r", **e}) for e in events]
    (logs / "events.jsonl").write_text("\n".join(lines) + "\n")


def test_healthy_paper(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    _beat(state, age=5)
    code, body = healthz(state, s, NOW)
    assert (code, body["ok"], body["reasons"]) == (200, True, [])
    assert body["details"]["bar_due"] == "2025-12-02"
    assert body["details"]["heartbeat"]["pid"] == os.getpid()


def test_a_missed_daily_bar(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 1))
    _beat(state, age=5)
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [
        "progress: last bar processed 2025-12-01, the 2025-12-02 bar was due by now"
    ]


def test_a_stale_heartbeat(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    _beat(state, age=600)
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == ["heartbeat: 600 s old (limit 50 s)"]


def test_a_dead_process(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    child = subprocess.Popen(["true"])
    child.wait()
    _beat(state, age=5, pid=child.pid)
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [f"heartbeat: process {child.pid} is gone"]


def test_an_outbox_over_its_limit(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    s.alerts.rate_per_minute = 1  # limit: 5 alerts waiting
    _paper_state(state, s, date(2025, 12, 2))
    _beat(state, age=5)
    box = OutboxStore(state / "state.sqlite")
    try:
        for k in range(6):
            row = NewRow(f"a{k}", "default", "signal", "BABA", "t", "b", None, NOW, NOW + 3600)
            box.add(row, ["t1"])
    finally:
        box.close()
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == ["outbox: 6 alert(s) waiting to be sent (limit 5)"]


def test_a_watcher_with_a_live_stream(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "watch"
    _watch_state(state, minute_age_s=90)
    _beat(state, age=5)
    _journal(s, {"event": "data_stream", "status": "silent", "silent_s": 130},
             {"event": "data_stream", "status": "restored"})  # fmt: skip
    code, body = healthz(state, s, NOW)
    assert (code, body["reasons"]) == (200, [])
    assert body["details"]["role"] == "watch"


def test_a_silent_stream(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "watch"
    _watch_state(state, minute_age_s=90)
    _beat(state, age=5)
    _journal(s, {"event": "data_stream", "status": "connected", "connects": 1},
             {"event": "data_stream", "status": "silent", "silent_s": 130})  # fmt: skip
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [
        "stream: the market-data stream is silent since 2025-12-03T14:50:00+00:00"
    ]


def test_a_paper_runs_trade_updates_stream_down_then_up(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    _beat(state, age=5)
    _journal(s, {"event": "stream", "status": "connected", "connects": 1},
             {"event": "stream", "status": "down", "fallback": "REST every 60.0 s"})  # fmt: skip
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [
        "stream: the trade-updates stream is down since 2025-12-03T14:50:00+00:00 "
        "(REST every 60.0 s)"
    ]
    _journal(s, {"event": "stream", "status": "connected", "connects": 2})
    assert healthz(state, s, NOW)[0] == 200


def test_a_watcher_without_minutes(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "watch"
    _watch_state(state, minute_age_s=3000)  # 50 min; limit 3 x 120 + 60 = 420 s
    _beat(state, age=5)
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [
        "progress: no minute bar for 1,800 s while open (last 2025-12-03 09:10 ET; limit 420 s)"
    ]


def test_broker_retrying(tmp_path: Path) -> None:
    s, state = _settings(tmp_path), tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    _beat(state, age=5)
    retry = {"event": "retry", "why": "clock", "error": "HTTP 503", "attempt": 3, "wait_s": 4}
    _journal(s, {"event": "bar"}, retry)
    code, body = healthz(state, s, NOW)
    assert code == 503
    assert body["reasons"] == [
        "broker: clock failed 3 times in a row (HTTP 503), last at 2025-12-03T14:50:00+00:00"
    ]


def test_cli_health(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    state = tmp_path / "state"
    _paper_state(state, s, date(2025, 12, 2))
    r = CliRunner().invoke(app, ["service", "health", "--state-dir", str(state),
                                 "--config", str(CONFIG)])  # fmt: skip
    assert r.exit_code == 1
    assert f"heartbeat: none in {state}" in r.output


def test_the_real_bot_executable_exists() -> None:
    assert shutil.which(str(BOT)) is not None


# ------------------------------------------------------ the health timer and its alerts


def test_health_service_unit() -> None:
    lines = _lines(unit.health_service_text(_spec("watch", user=True)))
    assert unit.health_unit_names("watch") == (
        "levelbot-watch-health.service",
        "levelbot-watch-health.timer",
    )
    assert "Type=oneshot" in lines
    want = (f"ExecStart={BOT} service health --for watch --alert "
            "--config /srv/levelbot/config/default.toml")  # fmt: skip
    assert want in lines
    assert "WorkingDirectory=/srv/levelbot" in lines
    assert "EnvironmentFile=-/srv/levelbot/.env" in lines
    assert "Environment=BOT_PAPER__STATE_DIR=/srv/levelbot/state" in lines
    assert "SuccessExitStatus=1" in lines
    assert not any(line.startswith(("Restart=", "[Install]", "User=")) for line in lines)
    system = _lines(unit.health_service_text(_spec("paper", user=False)))
    assert "User=alice" in system
    assert any(line.startswith(f"ExecStart={BOT} service health --for paper --alert")
               for line in system)  # fmt: skip


def test_health_timer_unit() -> None:
    lines = _lines(unit.health_timer_text(_spec("paper", user=False)))
    assert "[Timer]" in lines
    assert "OnBootSec=5min" in lines
    assert "OnUnitActiveSec=5min" in lines
    assert "Unit=levelbot-paper-health.service" in lines
    assert "WantedBy=timers.target" in lines
    assert not any(line.startswith("Persistent=") for line in lines)


def test_cli_writes_the_health_timer(tmp_path: Path, keys: Path) -> None:
    out = tmp_path / "units"
    args = ["service", "install", "--user", "--for", "watch", "--config", str(CONFIG),
            "--env-file", str(keys), "--out", str(out)]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "levelbot-watch-health.service",
        "levelbot-watch-health.timer",
        "levelbot-watch.service",
    ]
    service = _lines((out / "levelbot-watch-health.service").read_text())
    main = _lines((out / "levelbot-watch.service").read_text())
    shared = [line for line in main if line.startswith(("Environment", "WorkingDirectory="))]
    assert len(shared) == 5 and all(line in service for line in shared)
    assert f"ExecStart={BOT} service health --for watch --alert --config {CONFIG}" in service
    assert "systemctl --user enable --now levelbot-watch-health.timer" in r.output


def test_cli_dry_run_prints_the_three_units(tmp_path: Path, keys: Path) -> None:
    args = ["service", "install", "--for", "paper", "--config", str(CONFIG),
            "--env-file", str(keys), "--out", str(tmp_path / "units"), "--dry-run"]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    heads = [line for line in _lines(r.output) if line.startswith("# ==> ")]
    assert heads == [
        "# ==> levelbot-paper.service <==",
        "# ==> levelbot-paper-health.service <==",
        "# ==> levelbot-paper-health.timer <==",
    ]
    assert "OnUnitActiveSec=5min" in _lines(r.output)
    assert not (tmp_path / "units").exists()


@pytest.mark.parametrize("user", [True, False])
def test_systemd_analyze_accepts_the_health_timer(tmp_path: Path, user: bool) -> None:
    if not ANALYZE.exists():
        pytest.skip("systemd-analyze is not installed")
    role: unit.Role = "watch" if user else "paper"
    spec = unit.UnitSpec(**{**_spec(role, user).__dict__, "workdir": tmp_path,
                            "run_as": "root", "config": CONFIG})  # fmt: skip
    service_name, timer_name = unit.health_unit_names(role)
    service, timer = tmp_path / service_name, tmp_path / timer_name
    service.write_text(unit.health_service_text(spec))
    timer.write_text(unit.health_timer_text(spec))
    r = _verify(tmp_path, [timer, service], user)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "" and r.stdout.strip() == ""


def test_systemd_analyze_catches_a_broken_timer(tmp_path: Path) -> None:
    if not ANALYZE.exists():
        pytest.skip("systemd-analyze is not installed")
    spec = unit.UnitSpec(**{**_spec("paper", False).__dict__, "workdir": tmp_path,
                            "run_as": "root", "config": CONFIG})  # fmt: skip
    service_name, timer_name = unit.health_unit_names("paper")
    (tmp_path / service_name).write_text(unit.health_service_text(spec))
    timer = tmp_path / timer_name
    timer.write_text(unit.health_timer_text(spec).replace("5min", "five minutes"))
    r = _verify(tmp_path, [timer], user=False)
    assert "five minutes" in r.stderr  # the check above would see this


def _healthy_watch(state: Path, at: float) -> None:
    _watch_state(state, minute_age_s=NOW - at + 60)
    _beat(state, age=NOW - at + 5)


def test_health_alerts_once_per_episode(tmp_path: Path) -> None:
    from bot.alerts.channels import Channels
    from bot.alerts.model import alert_id_of
    from bot.service import alerting
    from bot.service.health import health
    from tests.alert_receiver import Receiver

    receiver = Receiver().start()
    try:
        channels = Channels({"default": receiver.url})
        s, state = _settings(tmp_path), tmp_path / "watch"
        said: list[str] = []
        cal = None

        def check(at: float) -> alerting.Outcome:
            nonlocal cal
            from bot.service.health import _calendar

            cal = cal or _calendar(NOW)
            h = health(state, s, at, calendar=cal)
            return alerting.alert_on(state, h, s, "watch", at, channels, flush_s=10,
                                     say=said.append)  # fmt: skip

        _watch_state(state, minute_age_s=3000)  # 50 min without a minute bar: failing
        _beat(state, age=5)
        first = check(NOW)
        assert first.alert is not None and first.new and first.flushed
        failed_id = alert_id_of("health_failed", "", str(state), round(NOW, 3))
        assert first.alert.alert_id == failed_id
        assert first.alert.title.startswith("levelbot unhealthy: progress: no minute bar")
        assert str(state) in first.alert.body and "journalctl" in first.alert.body
        assert alerting.read_episode(state)["failing_since"] == round(NOW, 3)

        second = check(NOW + 300)  # still failing: the same episode, nothing new
        assert second.alert is not None and not second.new
        assert receiver.ids() == [failed_id]
        assert alerting.read_episode(state)["failing_since"] == round(NOW, 3)

        _healthy_watch(state, NOW + 600)
        restored = check(NOW + 600)
        restored_id = alert_id_of("health_restored", "", str(state), round(NOW, 3))
        assert restored.alert is not None and restored.new
        assert receiver.ids() == [failed_id, restored_id]
        assert alerting.read_episode(state) == {}
        _healthy_watch(state, NOW + 900)
        assert check(NOW + 900).alert is None  # healthy and nothing open: silent
        assert receiver.ids() == [failed_id, restored_id]

        # No heartbeat since NOW + 895: 305 s old at NOW + 1200, a new episode.
        again = check(NOW + 1200)
        again_id = alert_id_of("health_failed", "", str(state), round(NOW + 1200, 3))
        assert again.alert is not None and again.new and again_id != failed_id
        assert receiver.ids() == [failed_id, restored_id, again_id]
        titles = [p["title"] for p in receiver.received()]
        assert titles[1] == "levelbot healthy again (watch)"
        assert titles[2].startswith("levelbot unhealthy: heartbeat:")
        box = OutboxStore(state / "state.sqlite")  # the bot's outbox: not used
        try:
            assert box.unsettled() == 0 and box.sent_since("console", 0) == []
        finally:
            box.close()
        assert (state / "health.sqlite").is_file()
    finally:
        receiver.stop()


def test_health_alert_retried_by_the_next_check(tmp_path: Path) -> None:
    from bot.alerts.channels import Channels
    from bot.service import alerting
    from bot.service.health import Health
    from tests.alert_receiver import Receiver

    receiver = Receiver().start()
    try:
        s, state = _settings(tmp_path), tmp_path / "state"
        s.alerts.backoff_base_s = 0.05
        channels = Channels({"default": receiver.url})
        receiver.status = 500  # the channel refuses: the alert stays in health.sqlite
        bad = Health(False, ["heartbeat: none"])
        first = alerting.alert_on(state, bad, s, "paper", NOW, channels, flush_s=0.5,
                                  say=lambda _: None)  # fmt: skip
        assert first.new and not first.flushed
        assert receiver.ids() == []
        receiver.status = 200
        second = alerting.alert_on(state, bad, s, "paper", NOW + 300, channels, flush_s=10,
                                   say=lambda _: None)  # fmt: skip
        assert not second.new and second.flushed
        assert first.alert is not None
        assert receiver.ids() == [first.alert.alert_id]
    finally:
        receiver.stop()


def test_cli_health_alert_prints_without_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("BOT_ALERT_URLS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here
    state = tmp_path / "never-started"
    args = ["service", "health", "--state-dir", str(state), "--config", str(CONFIG), "--alert"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1
    assert r.output.count("ALERT  levelbot unhealthy: heartbeat: none in") == 1
    assert (state / "health.json").is_file()
    r = CliRunner().invoke(app, args)  # the same episode: printed once only
    assert r.exit_code == 1
    assert "ALERT" not in r.output
