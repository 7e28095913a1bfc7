"""`bot service`: run the bot under systemd, and ask whether it is healthy.

`install` writes levelbot-paper.service (`bot paper --broker alpaca`) or
levelbot-watch.service (`bot watch`), and beside it a timer (levelbot-<role>-health.timer
and .service) that runs `bot service health --alert` every five minutes; it prints the
systemctl commands to enable them and never runs systemctl itself. `health` prints OK or
the reasons (bot/service/health.py) and exits 0 or 1; with `--alert` it also sends one
alert when the service becomes unhealthy and one when it recovers
(bot/service/alerting.py). Commands only: the units' text is made by bot/service/unit.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import ConfigOpt, app, user_errors
from bot.config_load import PROJECT_ROOT, ConfigError, load_settings, resolve_config_path
from bot.store.lock import check_dir

if TYPE_CHECKING:
    from bot.service.health import Health
    from bot.settings import Settings

service_app = typer.Typer(
    help="Run the bot as a systemd service (paper or watch), and check its health.",
    no_args_is_help=True,
)
app.add_typer(service_app, name="service")

ForOpt = Annotated[
    str, typer.Option("--for", help="paper (`bot paper --broker alpaca`) or watch (`bot watch`).")
]


def _role(text: str) -> str:
    if text not in ("paper", "watch"):
        raise ConfigError(f"--for must be paper or watch, not {text!r}")
    return text


def bot_executable() -> Path:
    """The `bot` beside the interpreter running this (the venv's own, never resolved:
    its python is a symlink out of the venv), else the one on PATH."""
    here = Path(sys.executable).absolute().parent / "bot"
    if here.is_file() and os.access(here, os.X_OK):
        return here
    found = shutil.which("bot")
    if found is None:
        raise ConfigError("cannot find the `bot` executable; install the project in its venv")
    return Path(found).absolute()


def _unit_dir(user: bool) -> Path:
    if not user:
        return Path("/etc/systemd/system")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user"


def _login_name() -> str:
    # Under sudo the unit should run as the one who asked, not as root.
    return os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name


@service_app.command("install")
@user_errors
def install(
    user: Annotated[
        bool, typer.Option("--user", help="A user unit (systemctl --user), not a system one.")
    ] = False,
    for_: ForOpt = "watch",
    config: ConfigOpt = None,
    env_file: Annotated[
        Path | None, typer.Option(help="Keys file for EnvironmentFile= (default: <project>/.env).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the units here (default: ~/.config/systemd/user or /etc/systemd/system)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the units, write nothing.")
    ] = False,
) -> None:
    """Write a systemd unit that runs the bot and restarts it on failure, and a timer
    that checks its health every five minutes and alerts when it fails."""
    from bot.service import unit

    role: unit.Role = "paper" if _role(for_) == "paper" else "watch"
    config_path = resolve_config_path(config).absolute()
    settings = load_settings(config_path)
    keys = unit.absolute(env_file or ".env", Path.cwd() if env_file else PROJECT_ROOT)
    if not keys.is_file():
        missing = (f"environment file {keys} does not exist: put ALPACA_API_KEY and "
                   "ALPACA_SECRET_KEY there, or choose another with --env-file")  # fmt: skip
        if not dry_run:
            raise ConfigError(missing)
        print(f"warning: {missing}", file=sys.stderr)
    spec = unit.UnitSpec(
        role=role,
        user_unit=user,
        bot_exe=bot_executable(),
        workdir=PROJECT_ROOT,
        config=config_path,
        env_file=keys,
        env=unit.folder_env(role, settings, PROJECT_ROOT),
        run_as=None if user else _login_name(),
    )
    health_service, health_timer = unit.health_unit_names(role)
    try:
        texts = {
            unit.unit_name(role): unit.unit_text(spec),
            health_service: unit.health_service_text(spec),
            health_timer: unit.health_timer_text(spec),
        }
    except unit.UnitError as exc:
        raise ConfigError(str(exc)) from None
    if keys.is_file():
        for note in unit.env_file_notes(keys.read_text(encoding="utf-8", errors="replace")):
            print(f"warning: {keys} {note}", file=sys.stderr)
    if dry_run:
        for n, (filename, text) in enumerate(texts.items()):
            print(("" if n == 0 else "\n") + f"# ==> {filename} <==")
            print(text, end="")
        return
    folder = out or _unit_dir(user)
    check_dir(folder, "unit folder", "--out (or run with sudo for a system unit)")
    folder.mkdir(parents=True, exist_ok=True)
    for filename, text in texts.items():
        path = folder / filename
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)  # systemd reads it; it holds paths, no secrets
        print(f"wrote {path}")
    name = unit.unit_name(role).removesuffix(".service")
    ctl, jctl = (
        ("systemctl --user", "journalctl --user") if user else ("sudo systemctl", "journalctl")
    )
    if out is not None:
        print(f"(copy them to {_unit_dir(user)}/ to use them)")
    print(f"start it now and at every boot:  {ctl} daemon-reload && {ctl} enable --now {name}")
    print(f"check its health every {unit.HEALTH_EVERY} and alert (health_failed / "
          f"health_restored):  {ctl} enable --now {health_timer}")  # fmt: skip
    if user:
        print(f"keep it running when you are logged out:  loginctl enable-linger {_login_name()}")
    print(f"its state:  {ctl} status {name};  its output:  {jctl} -u {name} -f")
    print(f"its health:  bot service health --for {role};  the checks:  "
          f"{jctl} -u {health_service}")  # fmt: skip


@service_app.command("health")
@user_errors
def health_cmd(
    for_: ForOpt = "paper",
    state_dir: Annotated[
        Path | None,
        typer.Option(help="State folder (default: paper.state_dir or watch.state_dir, by --for)."),
    ] = None,
    config: ConfigOpt = None,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert",
            help="Also send health_failed once when it fails and health_restored when it is "
            "healthy again (the episode: <state dir>/health.json).",
        ),
    ] = False,
) -> None:
    """Print OK or why not (heartbeat, bars, broker, stream, outbox); exit 0 or 1."""
    import time

    from bot.service.health import health

    role = _role(for_)
    settings = load_settings(config)
    folder = state_dir or Path(
        settings.paper.state_dir if role == "paper" else settings.watch.state_dir
    )
    now = time.time()
    h = health(folder, settings, now)
    if h.ok:
        print(f"OK ({folder})")
    else:
        for reason in h.reasons:
            print(reason)
    if alert:
        _alert(folder, h, settings, role, now)
    if not h.ok:
        raise typer.Exit(1)


def _alert(folder: Path, h: Health, settings: Settings, role: str, now: float) -> None:
    from bot.alerts.channels import ChannelError, Channels
    from bot.service.alerting import alert_on

    try:
        channels = Channels.from_env(printer=print)
    except ChannelError as exc:
        raise ConfigError(str(exc)) from None
    alert_on(folder, h, settings, role, now, channels)


__all__ = ["bot_executable", "health_cmd", "install", "service_app"]
