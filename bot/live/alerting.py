"""The alerts a paper run sends, from its settings: its own (bot/alerts/runsink.py: the
outbox in the run's state file, the [alerts] table, the channels of BOT_ALERT_URLS_*),
and, on Alpaca with `[paper] watch`, the level watcher's (bot/watch/background.py).
Both are late sinks: made once the run holds its state directory's lock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import events as ev
from bot.alerts.runsink import RunAlertSink, run_alerts
from bot.settings import Settings

LOG = logging.getLogger("bot.alerts")


def alerts_of(s: Settings, console: Any, live: bool) -> Callable[[], RunAlertSink]:
    state = Path(s.paper.state_dir) / "state.sqlite"
    return run_alerts(state, s.alerts, s.alerts.routes, console, live, SignalHistory(s))


class SignalHistory:
    """A confirmed signal's base rate (bot/study/baserate.py), from the symbol's own daily
    bars (the store's, or the bundled file when it is that symbol's), built once a symbol
    at its first signal; None when there are none, or for a signal about no level."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._studies: dict[str, Any] = {}

    def __call__(self, e: ev.Signal) -> str | None:
        sym = e.symbol or self.settings.symbol
        if sym not in self._studies:
            self._studies[sym] = self._build(sym)
        study = self._studies[sym]
        if study is None or e.signal_kind not in ("breakout", "breakdown"):
            return None
        rate = study.for_tag(e.tag, e.signal_kind == "breakout", e.ts)
        return None if rate is None else str(rate.sentence())

    def _build(self, sym: str) -> Any:
        from bot.data.load import symbol_warning
        from bot.data.source import load_bars
        from bot.study.baserate import StudyData

        try:
            source = load_bars(self.settings.for_symbol(sym), sym, None)
        except Exception as exc:  # no bars of its own: the alert goes without a base rate
            LOG.info("no base rate for %s: %s", sym, exc)
            return None
        if source.path is not None and symbol_warning(source.path, sym) is not None:
            return None
        return StudyData.build(self.settings, sym, source.loaded.bars)


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
