"""Where independent chunks of work run: in this process, a local process pool, or a Dask
cluster. `bot sweep` (combinations) and `bot scan` (symbols) share it.

`job` is what every task needs; it goes to each worker once (the pool's initializer
argument, or scattered to every Dask worker), and tasks carry only chunks of items.
`work(job, chunk)` scores a chunk; it must be a module-level function (sent by
reference), and so must `setup(job)`, which a pool worker runs once at start (to build
its caches). Results go to `on_results` a chunk at a time in completion order: callers
sort them, so a pool and a cluster give identical output.

Ctrl-C (KeyboardInterrupt, also raised by `on_results` to stop early) cancels what has
not started, hands over every chunk that did finish, and re-raises. Pool workers ignore
SIGINT and SIGTERM (a terminal's Ctrl-C and `kill -TERM -PGID` reach the whole process
group), so only this process decides what to keep: a worker that took the signal would
lose the chunk it was on, and a forked worker would otherwise run this process's handler
(bot.lifecycle) and raise inside the pool.
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
from typing import Any, TypeVar

from bot import lifecycle
from bot.config_load import ConfigError

J = TypeVar("J")  # the job
T = TypeVar("T")  # an item of work
R = TypeVar("R")  # a result

Advance = Callable[[int], None]  # `n` more items done
Show = Callable[[], AbstractContextManager[Advance]]

__all__ = ["Advance", "Show", "connect", "quiet", "run_chunks", "run_dask", "run_pool", "split"]


@contextmanager
def quiet() -> Iterator[Advance]:
    yield lambda n: None


def split(items: Sequence[T], workers: int) -> list[list[T]]:
    """About 16 chunks per worker: few enough to keep messaging cheap, enough for an
    even load and a lively progress bar."""
    size = max(1, min(64, len(items) // (max(workers, 1) * 16)))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run_chunks(
    job: J,
    items: Sequence[T],
    work: Callable[[J, Sequence[T]], list[R]],
    on_results: Callable[[list[R]], None],
    workers: int = 1,
    scheduler: str | None = None,
    show: Show = quiet,
    setup: Callable[[J], object] | None = None,
    preload: Sequence[str] = (),
) -> None:
    """Run `work` over `items`: on the Dask cluster at `scheduler`, else in `workers`
    local processes, else (one worker) here, chunk by chunk. `show()` gives the
    progress display, entered only once the workers exist (see `_context`)."""
    if not items:
        return
    if scheduler is not None:
        run_dask(job, items, work, on_results, scheduler, show)
    elif workers <= 1:
        if setup is not None:
            setup(job)
        with show() as step:
            for chunk in split(items, 1):
                results = work(job, chunk)
                on_results(results)
                step(len(results))
    else:
        run_pool(job, items, work, on_results, workers, show, setup, preload)


# ---------------------------------------------------------------- a local process pool

_JOB: list[Any] = []  # a pool worker's copy of the job, set by its initializer


def _pool_init(job: Any, setup: Callable[[Any], object] | None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _JOB[:] = [job]
    if setup is not None:
        setup(job)


def _pool_task(work: Callable[[Any, Sequence[Any]], list[Any]], chunk: Sequence[Any]) -> list[Any]:
    return work(_JOB[0], chunk)


def _context(preload: Sequence[str]) -> BaseContext:
    """fork (workers start in milliseconds, the data already in memory) while this
    process has a single thread; forking a threaded process can deadlock, so then
    forkserver with `preload` imported once, or the platform's default."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context()


def run_pool(
    job: J,
    items: Sequence[T],
    work: Callable[[J, Sequence[T]], list[R]],
    on_results: Callable[[list[R]], None],
    workers: int,
    show: Show = quiet,
    setup: Callable[[J], object] | None = None,
    preload: Sequence[str] = (),
) -> None:
    ctx = _context(preload)
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_pool_init, initargs=(job, setup)
    )
    futures: list[Future[list[R]]] = []
    taken: set[int] = set()
    try:
        # Submitting starts the workers: before the progress display starts its thread.
        # A Ctrl-C is held until the submits are done: one that lands while the pool's
        # manager thread is starting leaves a pool that cannot be shut down.
        with lifecycle.deferred():
            futures = [pool.submit(_pool_task, work, c) for c in split(items, workers)]
        with show() as step:
            for fut in as_completed(futures):
                taken.add(id(fut))
                results = fut.result()
                on_results(results)
                step(len(results))
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        # Chunks that were running when Ctrl-C came finished during the shutdown: keep them.
        for fut in futures:
            if id(fut) in taken or not fut.done() or fut.cancelled():
                continue
            if fut.exception() is None:
                on_results(fut.result())
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- a Dask cluster


def connect(address: str) -> Any:
    """A `distributed.Client` of the scheduler at `address`, or ConfigError saying why not.

    Imported here: only --scheduler needs distributed (and it takes a second to import).
    It has no type hints, so it is used through Any."""
    dist: Any = importlib.import_module("distributed")
    try:
        return dist.Client(address, timeout="10s")
    except Exception as exc:  # a server that is not Dask's: MemoryError, ValueError, ...
        why = "it does not speak Dask's protocol" if isinstance(exc, MemoryError) else exc
        raise ConfigError(f"no Dask scheduler at {address}: {why}") from None


def run_dask(
    job: J,
    items: Sequence[T],
    work: Callable[[J, Sequence[T]], list[R]],
    on_results: Callable[[list[R]], None],
    address: str,
    show: Show = quiet,
) -> None:
    dist: Any = importlib.import_module("distributed")
    with connect(address) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        # One copy of the job per worker; tasks refer to it instead of carrying it.
        job_future = client.scatter(job, broadcast=True, hash=False)
        futures: list[Any] = [
            client.submit(work, job_future, c, pure=False) for c in split(items, workers)
        ]
        try:
            with show() as step:
                for fut in dist.as_completed(futures):
                    results = fut.result()
                    on_results(results)
                    step(len(results))
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
