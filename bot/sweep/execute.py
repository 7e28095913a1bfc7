"""Where combinations are scored: in-process, a local process pool, or a Dask cluster.

The job (bars, base config, spans) goes to each worker once: as the pool's
initializer argument, or scattered to every Dask worker; the tasks carry only
(index, values) chunks. Results are handed to `on_result` as chunks finish, in
completion order; the caller sorts by combination index, so a pool and a cluster give
identical output. Ctrl-C (KeyboardInterrupt, also raised by `on_result` to stop early)
cancels what has not started, keeps every chunk that did finish, and re-raises.
Pool workers ignore SIGINT and SIGTERM (a terminal's Ctrl-C and `kill -TERM -PGID`
reach the whole process group), so only this process decides what to keep: a worker
that took the signal would lose the chunk it was scoring, and a forked worker would
otherwise run this process's handler (bot.lifecycle) and raise inside the pool.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from multiprocessing.context import BaseContext
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.config_load import ConfigError
from bot.sweep.evaluate import (
    ComboResult,
    SweepJob,
    evaluate_chunk,
    evaluate_known,
    evaluator_for,
)
from bot.sweep.params import Value

Todo = Sequence[tuple[int, tuple[Value, ...]]]
OnResult = Callable[[ComboResult], None]
Advance = Callable[[int], None]
Show = Callable[[], AbstractContextManager[Advance]]


@contextmanager
def quiet() -> Iterator[Advance]:
    yield lambda n: None


def chunks(todo: Todo, workers: int) -> list[list[tuple[int, tuple[Value, ...]]]]:
    """About 16 chunks per worker: few enough to keep messaging cheap, enough for an
    even load and a lively progress bar."""
    size = max(1, min(64, len(todo) // (max(workers, 1) * 16)))
    return [list(todo[i : i + size]) for i in range(0, len(todo), size)]


def execute(
    job: SweepJob,
    todo: Todo,
    on_result: OnResult,
    workers: int = 1,
    scheduler: str | None = None,
    show: Show = quiet,
) -> None:
    """Score `todo`, calling `on_result` for each finished combination; `show()` gives
    the progress display (entered only once the workers exist: see `_context`)."""
    if not todo:
        return
    if scheduler is not None:
        _run_dask(job, todo, on_result, scheduler, show)
    elif workers <= 1:
        ev = evaluator_for(job)
        with show() as step:
            for index, values in todo:
                on_result(ev.evaluate(index, values))
                step(1)
    else:
        _run_pool(job, todo, on_result, workers, show)


def _pool_init(job: SweepJob) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    evaluator_for(job)  # build the Bar list now, once per worker


def _context() -> BaseContext:
    """fork (workers start in milliseconds, the bars already in memory) while this
    process has a single thread; forking a threaded process can deadlock, so then
    forkserver with the evaluator preloaded, or the platform's default."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["bot.sweep.evaluate"])
        return ctx
    return mp.get_context()


def _run_pool(job: SweepJob, todo: Todo, on_result: OnResult, workers: int, show: Show) -> None:
    ctx = _context()
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_init, initargs=(job,))
    futures: list[Future[list[ComboResult]]] = []
    taken: set[int] = set()
    try:
        # Submitting starts the workers: before the progress display starts its thread.
        futures = [pool.submit(evaluate_known, job.token, c) for c in chunks(todo, workers)]
        with show() as step:
            for fut in as_completed(futures):
                taken.add(id(fut))
                results = fut.result()
                for res in results:
                    on_result(res)
                step(len(results))
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        # Chunks that were running when Ctrl-C came finished during the shutdown: keep them.
        for fut in futures:
            if id(fut) in taken or not fut.done() or fut.cancelled():
                continue
            if fut.exception() is None:
                for res in fut.result():
                    on_result(res)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(job: SweepJob, todo: Todo, on_result: OnResult, address: str, show: Show) -> None:
    # Imported here: only --scheduler needs distributed (and it takes a second to import).
    # It has no type hints, so it is used through Any.
    dist: Any = importlib.import_module("distributed")
    try:
        client = dist.Client(address, timeout="10s")
    except Exception as exc:  # a server that is not Dask's: MemoryError, ValueError, ...
        why = "it does not speak Dask's protocol" if isinstance(exc, MemoryError) else exc
        raise ConfigError(f"no Dask scheduler at {address}: {why}") from None
    with client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        # One copy of the job per worker; tasks refer to it instead of carrying it.
        job_future = client.scatter(job, broadcast=True, hash=False)
        futures: list[Any] = [
            client.submit(evaluate_chunk, job_future, c, pure=False) for c in chunks(todo, workers)
        ]
        try:
            with show() as step:
                for fut in dist.as_completed(futures):
                    results = fut.result()
                    for res in results:
                        on_result(res)
                    step(len(results))
        except KeyboardInterrupt:
            client.cancel(futures)
            raise


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
