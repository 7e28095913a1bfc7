"""Alert charts drawn off the bar loop: a PNG takes about 80 ms to draw, and a minute in
which 100 symbols cross their levels must not wait 8 s for 100 charts before its last
alert is written. So an alert is written to the outbox at once, with the path its chart
will have and a hold (`[watch] chart_wait_s`); this thread draws the charts in order and
releases each alert as soon as its chart is on disk (`Deliverer.release`). An alert whose
chart is not ready when the hold ends is sent without it (bot/alerts/messages.py says
so in the message): the news first, the picture if it can keep up. In a burst the
watcher does not even queue a chart that could not be ready within the hold
(`ready_within`): drawing it would only slow the alerts down. The drawing itself happens
in a child process (one worker, started once): matplotlib holds the GIL while it draws,
and in this process it would slow the bar loop and the deliverer down with it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.alerts.chart import render_alert_chart
from bot.models import Bar

LOG = logging.getLogger("bot.watch")
CHART_TIMEOUT_S = 30.0  # a chart not drawn by then is given up (its alert has gone)


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
        self.draw_s = 0.1  # how long a chart takes, a running mean (first guess: 100 ms)
        self._queued = 0
        self._jobs: queue.Queue[ChartJob | None] = queue.Queue()
        # spawn, not fork: this process has threads (the stream's, the deliverer's)
        self._pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_start,
            initargs=(os.getpid(),),
        )  # fmt: skip
        self._thread = threading.Thread(target=self._run, name="alert-charts", daemon=True)
        self._thread.start()

    def ready_within(self, seconds: float) -> bool:
        """Whether a chart queued now would be drawn within `seconds`."""
        return (self._queued + 1) * self.draw_s <= seconds

    def draw(self, job: ChartJob) -> None:
        self._queued += 1
        self._jobs.put(job)

    def close(self, wait_s: float = 10.0) -> None:
        """Draw what is queued (up to `wait_s`), then stop."""
        self._jobs.put(None)
        self._thread.join(wait_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._queued -= 1
            try:
                if not job.path.exists():
                    began = time.perf_counter()
                    self._pool.submit(render_alert_chart, job.bars, job.level, job.mark_ts,
                                      job.title, job.path).result(CHART_TIMEOUT_S)  # fmt: skip
                    self.draw_s = 0.8 * self.draw_s + 0.2 * (time.perf_counter() - began)
                self.drawn += 1
            except Exception as exc:  # the alert goes without its chart (a worker gone...)
                self.failed += 1
                LOG.warning("no chart for alert %s: %s", job.alert_id, exc)
                continue
            try:
                self.done(job.alert_id)
            except Exception as exc:  # a locked database: the hold's end sends it anyway
                LOG.warning("could not release alert %s: %s", job.alert_id, exc)


def _child_start(parent: int) -> None:
    """In the drawing process: Ctrl-C is the parent's to handle (no second traceback), and
    the process ends when its parent does, even by kill -9 (no orphan left drawing)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()


def job_of(alert_id: str, bars: Sequence[Bar], level: float, mark_ts: int, title: str,
           path: Path) -> ChartJob:  # fmt: skip
    return ChartJob(alert_id, tuple(bars), level, mark_ts, title, path)


__all__ = ["ChartJob", "ChartWorker", "job_of"]
