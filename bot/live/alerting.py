"""The alerts a paper run sends, from its settings: its own (bot/alerts/runsink.py: the
outbox in the run's state file, the [alerts] table, the channels of BOT_ALERT_URLS_*),
and, on Alpaca with `[paper] watch`, the level watcher's (bot/watch/background.py).
Both are late sinks: made once the run holds its state directory's lock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.alerts.runsink import RunAlertSink, run_alerts
from bot.settings import Settings


def alerts_of(s: Settings, console: Any, live: bool) -> Callable[[], RunAlertSink]:
    state = Path(s.paper.state_dir) / "state.sqlite"
    return run_alerts(state, s.alerts, s.alerts.routes, console, live)


def watcher_of(
    s: Settings, console: Any, api: Any, keys: tuple[str, str], symbols: list[str]
) -> list[Callable[[], Any]]:
    """The level watcher's sink factory (it starts the thread; its close stops it), or none."""
    if not s.paper.watch:
        return []

    def start() -> Any:
        from bot.watch.background import WatchThread

        def printer(text: str) -> None:
            console.print(text, markup=False, highlight=False, soft_wrap=True)

        watcher = WatchThread(s, api, keys, symbols, printer)
        watcher.start()
        return watcher

    return [start]
