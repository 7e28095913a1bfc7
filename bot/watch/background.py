"""The level watcher inside `bot paper --broker alpaca` (`[paper] watch = true`): the
live loop of `bot watch` (bot/watch/live.py) on a thread of its own, so a paper run sends
the same level alerts as `bot watch`, minute by minute, while it waits for the close.

The paper run sends `confirmed` itself (from the signal it trades on), so the thread's
watchers keep that tier quiet (its state still moves: *failed* and *retest held* follow a
confirmation). Its outbox is `<paper.state_dir>/watch/state.sqlite`, apart from the run's:
one sender per outbox. A fault of the watcher (the stream refused, the data API down) is
logged and ends the watcher only, never the trading.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bot import lifecycle
from bot.alpaca.trading import AlpacaApi
from bot.settings import Settings
from bot.watch.live import Stopped
from bot.watch.start import Printer, WatchOptions, open_watch

LOG = logging.getLogger("bot.watch")


class WatchThread:
    """Started by `start()`; a paper run's sink: it takes no event, `close()` stops it."""

    name = "watcher"

    def __init__(
        self,
        settings: Settings,
        api: AlpacaApi,
        keys: tuple[str, str],
        symbols: list[str],
        printer: Printer,
    ) -> None:
        self.s, self.api, self.keys = settings, api, keys
        self.symbols = symbols
        self.printer = printer
        self.state_dir = Path(settings.paper.state_dir) / "watch"
        self.stop_event = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="level-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        opts = WatchOptions(no_confirmed=True)
        try:
            with open_watch(self.s, self.api, *self.keys, self.symbols, self.state_dir,
                            self.printer, opts, self.stop_event) as watch:  # fmt: skip
                watch.run()
        except (Stopped, lifecycle.Interrupted):
            pass
        except Exception as exc:  # the watcher ends; the trading goes on
            self.error = f"{type(exc).__name__}: {exc}"
            LOG.error("the level watcher stopped (trading goes on): %s", self.error)

    def handle(self, event: object) -> None:
        return None

    def close(self, wait_s: float = 15.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(wait_s)


__all__ = ["WatchThread"]
