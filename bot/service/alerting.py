"""`bot service health --alert`: one alert when the service becomes unhealthy, one when
it is healthy again (issue 17), however often the check runs (a systemd timer: every
five minutes, bot/service/unit.py).

The episode lives in `<state_dir>/health.json` (`{"failing_since": <UNIX s>, "reasons":
[...]}`, replaced atomically; absent or `{}` while healthy):
- unhealthy, no episode open: the episode starts now; written, then `health_failed` sent;
- unhealthy, an episode open: `health_failed` of that episode submitted again, which the
  outbox ignores (the same id) unless a check died between writing the file and sending;
- healthy, an episode open: `health_restored` sent, then the episode closed;
- healthy, none open: nothing.
Both ids are `alert_id_of(kind, "", str(state_dir), failing_since)`: a retry of the same
check never sends twice, a new episode (a new start time) always sends.

The alerts go through an outbox of their own, `<state_dir>/health.sqlite`, never the
bot's state.sqlite: a deliverer started on the bot's outbox while the bot runs would turn
the bot's messages being sent into "in doubt" (bot/alerts/deliver.py), and the check must
not depend on the bot it checks (a stuck bot's outbox may be the reason it fails). What a
check could not deliver within `flush_s` (a channel down) stays pending there, and the
next check's deliverer sends it. Channels and routes are the bot's own
(BOT_ALERT_URLS_<CHANNEL>, [alerts.routes]); without URLs the alert is printed.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from bot.alerts.channels import Channels, route
from bot.alerts.deliver import Deliverer
from bot.alerts.model import Alert, alert_id_of
from bot.service.health import Health
from bot.settings import Settings
from bot.store.lock import private_dir

EPISODE_FILE = "health.json"
OUTBOX_FILE = "health.sqlite"
LOCK_FILE = "health.lock"
FLUSH_S = 30.0  # a check waits this long for its alert to be sent, then leaves it pending
LOCK_WAIT_S = 90.0  # another check (the timer's, a manual one) sending at the same time


@dataclass(frozen=True)
class Outcome:
    """What the check did: the alert submitted (None: nothing to say), whether it is new
    to the outbox (False: sent before, by the same episode), and whether the outbox is
    empty now (False: the channel did not take it in time; the next check retries)."""

    alert: Alert | None
    new: bool = False
    flushed: bool = True


def read_episode(state_dir: Path) -> dict[str, Any]:
    """The open episode, or {} (none, or a file that cannot be read: treated as none)."""
    try:
        data = json.loads((state_dir / EPISODE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("failing_since"), int | float):
        return {}
    return data


def write_episode(state_dir: Path, episode: dict[str, Any]) -> None:
    tmp = state_dir / (EPISODE_FILE + ".new")
    tmp.write_text(json.dumps(episode, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, state_dir / EPISODE_FILE)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _unit(role: str) -> str:
    return f"levelbot-{role}"


def failed_alert(
    settings: Settings, state_dir: Path, role: str, since: float, reasons: list[str]
) -> Alert:
    unit = _unit(role)
    body = "\n".join(
        [
            f"levelbot ({role}) on {socket.gethostname()} is unhealthy since {_when(since)}:",
            *(f"- {r}" for r in reasons),
            f"state: {state_dir}",
            "what to do: `bot status` (paper) or the dashboard; the service's output: "
            f"`journalctl --user -u {unit} -n 100` (a system unit: without --user); "
            f"`systemctl --user status {unit}`; `bot service health --for {role}` again.",
            "One alert per failure: the next is sent when it is healthy again.",
        ]
    )
    return Alert(
        alert_id=alert_id_of("health_failed", "", str(state_dir), since),
        kind="health_failed",
        symbol="",
        title=f"levelbot unhealthy: {reasons[0] if reasons else 'no reason given'}",
        body=body,
        channels=route(settings.alerts.routes, "health_failed"),
    )


def restored_alert(
    settings: Settings, state_dir: Path, role: str, since: float, now: float
) -> Alert:
    minutes = max(now - since, 0) / 60
    return Alert(
        alert_id=alert_id_of("health_restored", "", str(state_dir), since),
        kind="health_restored",
        symbol="",
        title=f"levelbot healthy again ({role})",
        body=f"levelbot ({role}) on {socket.gethostname()} passes its health check again, "
        f"after {minutes:,.0f} min unhealthy (since {_when(since)}).\nstate: {state_dir}",
        channels=route(settings.alerts.routes, "health_restored"),
    )


def alert_on(
    state_dir: Path,
    h: Health,
    settings: Settings,
    role: str,
    now: float,
    channels: Channels,
    *,
    flush_s: float = FLUSH_S,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Record the episode of the check `h` (made at `now`) and send its alert if one is
    due (the rules of the module docstring)."""
    private_dir(state_dir)  # a service that never started has none yet: still alerted
    try:
        with FileLock(str(state_dir / LOCK_FILE), mode=0o600, timeout=LOCK_WAIT_S):
            return _alert_on(state_dir, h, settings, role, now, channels, flush_s, say)
    except Timeout:
        say(f"another health check holds {state_dir / LOCK_FILE}; no alert sent by this one")
        return Outcome(None)


def _alert_on(
    state_dir: Path,
    h: Health,
    settings: Settings,
    role: str,
    now: float,
    channels: Channels,
    flush_s: float,
    say: Callable[[str], None],
) -> Outcome:
    episode = read_episode(state_dir)
    since = episode.get("failing_since")
    if h.ok:
        if since is None:
            return Outcome(None)
        alert = restored_alert(settings, state_dir, role, float(since), now)
    else:
        if since is None:
            since = round(now, 3)
        # Written before the alert is sent: a check that dies in between sends the same id
        # next time, which the outbox then delivers once.
        write_episode(state_dir, {"failing_since": since, "reasons": h.reasons})
        alert = failed_alert(settings, state_dir, role, float(since), h.reasons)
    outcome = _send(state_dir / OUTBOX_FILE, alert, settings, channels, flush_s)
    if h.ok:  # closed only once restored is in the outbox (committed by submit)
        write_episode(state_dir, {})
    if outcome.new:
        say(f"alert {alert.kind} ({alert.alert_id}): {channels.describe()}")
    if not outcome.flushed:
        say(f"alert {alert.alert_id} not delivered within {flush_s:g} s; "
            f"the next check tries again ({state_dir / OUTBOX_FILE})")  # fmt: skip
    return outcome


def _send(
    outbox: Path, alert: Alert, settings: Settings, channels: Channels, flush_s: float
) -> Outcome:
    deliverer = Deliverer.open(outbox, settings.alerts, channels)
    try:
        new = deliverer.submit(alert)
        flushed = deliverer.flush(flush_s)
    finally:
        deliverer.close(timeout=5.0)
    return Outcome(alert, new, flushed)


__all__ = ["Outcome", "alert_on", "failed_alert", "read_episode", "restored_alert"]
