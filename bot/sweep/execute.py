"""Where combinations are scored: in-process, a local process pool, or a Dask cluster.

The job (bars, base config, spans) goes to each worker once and the tasks carry only
(index, values) chunks; the pool and the cluster are bot.parallel's (shared with
`bot scan`), which hands results over as chunks finish, in completion order. The
caller sorts by combination index, so a pool and a cluster give identical output.
Ctrl-C (KeyboardInterrupt, also raised by `on_result` to stop early) cancels what has
not started, keeps every chunk that did finish, and re-raises. In-process, results go
out one combination at a time (the `limit` test hook stops exactly there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.kernel import missing
from bot.parallel import Advance, Show, quiet, run_dask, run_pool
from bot.sweep.evaluate import ComboResult, SweepJob, evaluate_chunk, evaluator_for
from bot.sweep.params import Value

Todo = Sequence[tuple[int, tuple[Value, ...]]]
OnResult = Callable[[ComboResult], None]

__all__ = ["Advance", "Show", "execute", "progress", "quiet"]


def execute(
    job: SweepJob,
    todo: Todo,
    on_result: OnResult,
    workers: int = 1,
    scheduler: str | None = None,
    show: Show = quiet,
) -> None:
    """Score `todo`, calling `on_result` for each finished combination; `show()` gives
    the progress display (entered only once the workers exist)."""
    if not todo:
        return

    def on_results(results: list[ComboResult]) -> None:
        for res in results:
            on_result(res)

    if job.kernel and missing() is None:
        # Compiled (first run) or loaded from numba's cache in this process, once (`bot
        # sweep` has done it already): forked pool workers inherit the machine code.
        from bot.kernel.run import warm

        warm()
    if scheduler is not None:
        run_dask(job, todo, evaluate_chunk, on_results, scheduler, show)
    elif workers <= 1:
        ev = evaluator_for(job)
        with show() as step:
            for index, values in todo:
                on_result(ev.evaluate(index, values))
                step(1)
    else:
        # The pool's initializer builds each worker's Evaluator (the Bar list) once.
        preload = ("bot.sweep.evaluate", "bot.kernel.run")
        run_pool(job, todo, evaluate_chunk, on_results, workers, show, evaluator_for, preload)


@contextmanager
def progress(console: Console, total: int, done: int) -> Iterator[Advance]:
    """A progress bar over combinations, with the time elapsed and an estimate of the
    time left (rich's, from the recent rate)."""
    with Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("combinations"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as prog:
        task = prog.add_task("sweep", total=total, completed=done)
        yield lambda n: prog.advance(task, n)
