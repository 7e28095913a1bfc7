"""The alerts a paper run sends (bot/alerts/runsink.py), from its settings: the outbox in
the run's state file, the [alerts] table, the channels of BOT_ALERT_URLS_*."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.alerts.runsink import RunAlertSink, run_alerts
from bot.settings import Settings


def alerts_of(s: Settings, console: Any, live: bool) -> Callable[[], RunAlertSink]:
    state = Path(s.paper.state_dir) / "state.sqlite"
    return run_alerts(state, s.alerts, s.alerts.routes, console, live)
