"""Alert charts drawn off the bar loop: a PNG takes about 80 ms to draw, and a minute in
which 100 symbols cross their levels must not wait 8 s for 100 charts before its last
alert is written. So an alert is written to the outbox at once, with the path its chart
will have and a hold (`[watch] chart_wait_s`); this thread draws the charts in order and
releases each alert as soon as its chart is on disk (`Deliverer.release`). An alert whose
chart is not ready when the hold ends is sent without it (bot/alerts/messages.py says
so in the message): the news first, the picture if it can keep up.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.alerts.chart import render_alert_chart
from bot.models import Bar

LOG = logging.getLogger("bot.watch")


@dataclass(frozen=True)
class ChartJob:
    alert_id: str
    bars: tuple[Bar, ...]  # exactly the bars the watcher decided on, copied at the alert
    level: float
    mark_ts: int
    title: str
    path: Path


class ChartWorker:
    """Draws queued charts on its own thread; `done(alert_id)` is called after each one."""

    def __init__(self, done: Callable[[str], None]) -> None:
        self.done = done
        self.drawn = self.failed = 0
        self._jobs: queue.Queue[ChartJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="alert-charts", daemon=True)
        self._thread.start()

    def draw(self, job: ChartJob) -> None:
        self._jobs.put(job)

    def close(self, wait_s: float = 10.0) -> None:
        """Draw what is queued (up to `wait_s`), then stop."""
        self._jobs.put(None)
        self._thread.join(wait_s)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if not job.path.exists():
                    render_alert_chart(job.bars, job.level, job.mark_ts, job.title, job.path)
                self.drawn += 1
            except (OSError, ValueError) as exc:  # the alert goes without its chart
                self.failed += 1
                LOG.warning("no chart for alert %s: %s", job.alert_id, exc)
                continue
            try:
                self.done(job.alert_id)
            except Exception as exc:  # a locked database: the hold's end sends it anyway
                LOG.warning("could not release alert %s: %s", job.alert_id, exc)


def job_of(alert_id: str, bars: Sequence[Bar], level: float, mark_ts: int, title: str,
           path: Path) -> ChartJob:  # fmt: skip
    return ChartJob(alert_id, tuple(bars), level, mark_ts, title, path)


__all__ = ["ChartJob", "ChartWorker", "job_of"]
