"""The systemd units of `bot service install`: settings and paths in, unit text out.
The bot's own service, and a health-check pair: a oneshot service running `bot service
health --alert` (bot/service/alerting.py) and the timer starting it every HEALTH_EVERY.

Pure: nothing here reads the disk or talks to systemd; bot/cli/service.py chooses the
paths and writes the file. Every path in the unit is absolute, because systemd starts the
service from nowhere in particular, and the state and log folders are passed explicitly
(`Environment=BOT_...`) so `bot status`, `bot halt` and `bot service health` run from the
project folder find the same files the service writes.

Exit codes (bot/live/paper.py, bot/watch/start.py) decide what systemd does:
- 143: the bot ended cleanly on SIGTERM (`systemctl stop`): a success, not a failure;
- 2 (bad config or keys), 3 (another bot holds the state), 4 (reconciliation needs a
  human): restarting cannot fix them, so they are not restarted (RestartPreventExitStatus);
- anything else, e.g. 5 (the broker unreachable at start-up) or a crash: restarted after
  RestartSec, which also paces the retries against the broker.
"""

from __future__ import annotations

import os.path
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.settings import Settings

Role = Literal["paper", "watch"]
ROLES: tuple[Role, ...] = ("paper", "watch")
RESTART_SEC = 30  # seconds between restarts: a broker outage is not hammered
NO_RESTART = (2, 3, 4)  # fix-it-first exit codes (see the module docstring)
STOP_TIMEOUT_S = 60  # the bot ends "within moments" of SIGTERM; past this systemd kills it
HEALTH_EVERY = "5min"  # the health timer's period (and its first run after boot)
HEALTH_TIMEOUT_S = 180  # a check, plus its alert's delivery (bot/service/alerting.py)
_PLAIN = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")


class UnitError(ValueError):
    """A path systemd could not be given as it is; the message names it."""


@dataclass(frozen=True)
class UnitSpec:
    """What the unit is made of; every path absolute."""

    role: Role
    user_unit: bool  # a `systemctl --user` unit, else a system unit
    bot_exe: Path  # the venv's `bot` executable
    workdir: Path  # the project folder: relative paths in the config resolve from here
    config: Path
    env_file: Path
    env: tuple[tuple[str, str], ...]  # BOT_* variables naming the state and log folders
    run_as: str | None = None  # User= of a system unit


def unit_name(role: Role) -> str:
    return f"levelbot-{role}.service"


def health_unit_names(role: Role) -> tuple[str, str]:
    """The health check's oneshot service and the timer that starts it."""
    return f"levelbot-{role}-health.service", f"levelbot-{role}-health.timer"


def command_args(role: Role) -> list[str]:
    """The bot's arguments: a live paper run on the Alpaca paper account, or the watcher."""
    return ["paper", "--broker", "alpaca"] if role == "paper" else ["watch"]


def absolute(path: str | Path, base: Path) -> Path:
    """`path` from `base` when relative, normalised (no `..`), symlinks kept."""
    p = Path(path).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


def folder_env(role: Role, settings: Settings, base: Path) -> tuple[tuple[str, str], ...]:
    """The state and log folders (and the paper halt file) as absolute BOT_* variables.
    The watcher's logs go to paper.log_dir too (bot/watch/start.py)."""
    p = settings.paper
    logs = ("BOT_PAPER__LOG_DIR", str(absolute(p.log_dir, base)))
    if role == "watch":
        return (("BOT_WATCH__STATE_DIR", str(absolute(settings.watch.state_dir, base))), logs)
    return (
        ("BOT_PAPER__STATE_DIR", str(absolute(p.state_dir, base))),
        ("BOT_PAPER__HALT_FILE", str(absolute(p.halt_file, base))),
        logs,
    )


def _check(value: str, what: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise UnitError(f"{what} {value!r} holds a control character; systemd cannot take it")
    return value


def _specifiers(value: str) -> str:
    return value.replace("%", "%%")  # systemd expands %h, %u, ... in these settings


def _arg(value: str) -> str:
    """One ExecStart argument: quoted when it is not plain; `$` and `%` doubled."""
    _check(value, "argument")
    text = (
        value
        if _PLAIN.match(value)
        else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    )
    return _specifiers(text).replace("$", "$$")


def _env(name: str, value: str) -> str:
    assignment = f"{name}={_check(value, name)}"
    if _PLAIN.match(value):
        return _specifiers(assignment)
    return _specifiers('"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _path(path: Path, what: str) -> str:
    if not path.is_absolute():
        raise UnitError(f"{what} {path} is not absolute")
    return _specifiers(_check(str(path), what))


def unit_text(spec: UnitSpec) -> str:
    """The unit file's text."""
    what = "paper trading on the Alpaca paper account" if spec.role == "paper" else "level watcher"
    argv = [str(spec.bot_exe), *command_args(spec.role), "--config", str(spec.config)]
    _path(spec.bot_exe, "the bot executable")
    _path(spec.config, "the config file")
    systemctl = "systemctl --user" if spec.user_unit else "systemctl"
    unit = [
        f"# Written by `bot service install`; after editing: {systemctl} daemon-reload",
        "[Unit]",
        f"Description=levelbot {what} (bot {spec.role})",
    ]
    if not spec.user_unit:  # a user manager has no network-online.target of its own
        unit += ["Wants=network-online.target", "After=network-online.target"]
    service = [
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={_path(spec.workdir, 'the working directory')}",
        "ExecStart=" + " ".join(_arg(a) for a in argv),
        *_environment(spec),
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        "RestartPreventExitStatus=" + " ".join(str(c) for c in NO_RESTART),
        "SuccessExitStatus=143",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={STOP_TIMEOUT_S}",
        "UMask=0077",  # state and logs hold account data (bot/cli/entry.py sets it too)
    ]
    if spec.run_as and not spec.user_unit:
        service.append(f"User={_check(spec.run_as, 'User=')}")
    wanted = "default.target" if spec.user_unit else "multi-user.target"
    install = ["", "[Install]", f"WantedBy={wanted}"]
    return "\n".join(unit + service + install) + "\n"


def _environment(spec: UnitSpec) -> list[str]:
    return [
        # `-`: a key file deleted later is not a systemd start failure looping on restarts;
        # the bot then says itself which key is missing and exits 2 (not restarted).
        f"EnvironmentFile=-{_path(spec.env_file, 'the environment file')}",
        f"Environment={_env('PYTHONUNBUFFERED', '1')}",  # lines reach the journal at once
        *(f"Environment={_env(k, v)}" for k, v in spec.env),
    ]


def health_service_text(spec: UnitSpec) -> str:
    """The oneshot service the timer starts: `bot service health --alert` on the folders
    the main unit writes (the same working directory, keys file and BOT_* variables, so
    the same state, logs and alert channels)."""
    argv = [str(spec.bot_exe), "service", "health", "--for", spec.role, "--alert",
            "--config", str(spec.config)]  # fmt: skip
    _path(spec.bot_exe, "the bot executable")
    _path(spec.config, "the config file")
    systemctl = "systemctl --user" if spec.user_unit else "systemctl"
    lines = [
        f"# Written by `bot service install`; after editing: {systemctl} daemon-reload",
        "# Started by the timer of the same name; one run: "
        f"{systemctl} start {health_unit_names(spec.role)[0]}",
        "[Unit]",
        f"Description=levelbot health check of {unit_name(spec.role)} (alerts on failure)",
    ]
    if not spec.user_unit:
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += [
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={_path(spec.workdir, 'the working directory')}",
        "ExecStart=" + " ".join(_arg(a) for a in argv),
        *_environment(spec),
        # Exit 1 is "unhealthy", which the check has just alerted about: not a failure
        # of this unit (a failed unit would only add noise to `systemctl --failed`).
        "SuccessExitStatus=1",
        f"TimeoutStartSec={HEALTH_TIMEOUT_S}",
        "UMask=0077",
    ]
    if spec.run_as and not spec.user_unit:
        lines.append(f"User={_check(spec.run_as, 'User=')}")
    return "\n".join(lines) + "\n"


def health_timer_text(spec: UnitSpec) -> str:
    """Every HEALTH_EVERY after the last check, and that long after boot. Not Persistent=:
    that only applies to OnCalendar=; a check missed while the machine was off is not
    news, the first one after boot is."""
    service = health_unit_names(spec.role)[0]
    systemctl = "systemctl --user" if spec.user_unit else "systemctl"
    lines = [
        f"# Written by `bot service install`; after editing: {systemctl} daemon-reload",
        "[Unit]",
        f"Description=levelbot health check of {unit_name(spec.role)} every {HEALTH_EVERY}",
        "",
        "[Timer]",
        f"OnBootSec={HEALTH_EVERY}",
        f"OnUnitActiveSec={HEALTH_EVERY}",
        "AccuracySec=30s",
        f"Unit={service}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


def env_file_notes(text: str) -> list[str]:
    """Lines of a .env that systemd's EnvironmentFile= reads differently from python-dotenv
    (which the bot uses when it reads .env itself): systemd's value would win."""
    notes = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("export "):
            notes.append(f"line {n}: systemd does not understand `export`; remove it")
        elif "=" in s and not s.split("=", 1)[1].lstrip().startswith(("'", '"')) and " #" in s:
            notes.append(f"line {n}: systemd keeps a trailing ` # comment` in the value")
    return notes


__all__ = [
    "HEALTH_EVERY",
    "NO_RESTART",
    "RESTART_SEC",
    "ROLES",
    "Role",
    "UnitError",
    "UnitSpec",
    "absolute",
    "command_args",
    "env_file_notes",
    "folder_env",
    "health_service_text",
    "health_timer_text",
    "health_unit_names",
    "unit_name",
    "unit_text",
]
