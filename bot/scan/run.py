"""`bot scan`: read the universe, measure every symbol where the options say, sort, write.

Everything is checked before any bar is read: the options, the universe file (bad
symbols named with their line), the rules of symbols outside the watchlist. The rows are
measured in this process (`workers=1`), in a local process pool, or on a Dask cluster
(bot.parallel), then sorted by distance to the 52-week peak, nearest first (rows without
a peak after those with one, rows without bars last, ties by symbol): the order never
depends on where or in which order rows were made, so every way gives identical files.
An interrupt (Ctrl-C, SIGTERM, the `limit` test hook) becomes ScanInterrupted: nothing
is written, and the message says so. The command-line layer (bot/cli/scan.py) only
parses options and prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console

from bot import lifecycle
from bot.config_load import ConfigError, resolve_data_path, store_path
from bot.data.store import BarStore
from bot.data.timeframe import DAILY
from bot.kernel import missing as kernel_missing
from bot.kernel.support import unsupported_strategy
from bot.parallel import Advance, run_chunks
from bot.report.views import progress_bar
from bot.scan.measure import NO_DATA, ScanJob, ScanRow, measure_chunk
from bot.scan.report import write_csv, write_html
from bot.scan.targets import targets_for
from bot.scan.universe import Universe, read_universe
from bot.settings import Settings

__all__ = ["ScanInterrupted", "ScanOptions", "ScanOutcome", "job_settings", "run_scan", "sort_rows"]


@dataclass(frozen=True)
class ScanOptions:
    bars: int = 5  # signals of the last N bars
    out: Path | None = None  # default runs/scan-<time>
    workers: int | None = None  # default: every core
    scheduler: str | None = None  # tcp://host:port of a Dask scheduler
    limit: int | None = None  # test hook: stop like Ctrl-C after this many rows


class ScanInterrupted(Exception):
    """Stopped before the end; nothing was written. The message says so."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # 130 for SIGINT, 143 for SIGTERM


@dataclass
class ScanOutcome:
    universe: Universe
    rows: list[ScanRow]  # sorted (sort_rows)
    out_dir: Path
    where: str  # what ran it: local workers or the cluster
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def without_data(self) -> list[ScanRow]:
        return [r for r in self.rows if r.status == NO_DATA]


def check_options(opts: ScanOptions) -> None:
    if opts.bars < 1:
        raise ConfigError(f"--bars must be at least 1 (got {opts.bars})")
    if opts.workers is not None and opts.workers < 1:
        raise ConfigError(f"--workers must be at least 1 (got {opts.workers})")
    if opts.scheduler is not None and "://" not in opts.scheduler:
        raise ConfigError(
            f"--scheduler must be an address like tcp://127.0.0.1:8786 (got {opts.scheduler!r})"
        )


def job_settings(settings: Settings) -> Settings:
    """The settings a worker reads bars with: daily bars, the store and the bundled file
    as absolute paths (a worker may run elsewhere), and no secrets (they are not needed
    to read files, and never leave this process)."""
    data = settings.data.model_copy(
        update={
            "store": str(store_path(settings.data.store)),
            "path": str(resolve_data_path(settings.data.path).absolute()),
            "timeframe": str(DAILY),
        }
    )
    return settings.model_copy(
        update={"data": data, "alpaca_api_key": None, "alpaca_secret_key": None}
    )


def sort_key(row: ScanRow) -> tuple[int, float, str]:
    if row.status == NO_DATA:
        return (2, 0.0, row.symbol)
    if row.peak_distance_pct is None:
        return (1, 0.0, row.symbol)
    return (0, abs(row.peak_distance_pct), row.symbol)


def sort_rows(rows: list[ScanRow]) -> list[ScanRow]:
    """Nearest to the 52-week peak first (either side), then rows without a peak, then
    rows without bars; ties by symbol."""
    return sorted(rows, key=sort_key)


@dataclass
class _Count:
    """How far the measuring got, for the message when it is interrupted."""

    done: int = 0
    total: int | None = None  # None: not started


def run_scan(
    universe_path: Path, settings: Settings, opts: ScanOptions, console: Console | None = None
) -> ScanOutcome:
    """The whole command. An interrupt (KeyboardInterrupt, or bot.lifecycle's
    Interrupted for SIGINT/SIGTERM) becomes ScanInterrupted, whose exit code is the
    signal's and whose message says whether anything was written."""
    console = console or Console(quiet=True)
    check_options(opts)
    count = _Count()
    try:
        universe, rows, where = _measure(universe_path, settings, opts, console, count)
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, lifecycle.Interrupted) else 130
        done = (
            "before any symbol was scanned"
            if count.total is None
            else f"{count.done} of {count.total} symbol(s) were scanned"
        )
        raise ScanInterrupted(
            f"interrupted: {done}; nothing was written (a scan keeps no partial results): "
            "run it again",
            code,
        ) from None
    out_dir = opts.out or Path("runs") / datetime.now().strftime("scan-%Y%m%d-%H%M%S")
    outcome = ScanOutcome(universe, sort_rows(rows), out_dir, where)
    title = f"Scan of {universe.path}"
    try:
        with lifecycle.deferred():  # a signal waits: both files are written whole
            outcome.files["csv"] = write_csv(out_dir / "scan.csv", outcome.rows)
            outcome.files["html"] = write_html(
                out_dir / "scan.html", outcome.rows, title, [where, _legend(opts.bars)]
            )
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, lifecycle.Interrupted) else 130
        raise ScanInterrupted(f"interrupted: the files are written in {out_dir}", code) from None
    # Only printing is left: a signal now ends the command with this line (bot.cli.entry).
    lifecycle.set_hint(f"the scan had finished; its files are in {out_dir}")
    return outcome


def _measure(
    universe_path: Path, settings: Settings, opts: ScanOptions, console: Console, count: _Count
) -> tuple[Universe, list[ScanRow], str]:
    """Every symbol's row, in completion order, and where they were made."""
    universe = read_universe(universe_path)
    targets = targets_for(settings, universe.symbols)
    job_cfg = job_settings(settings)
    store = BarStore(Path(job_cfg.data.store))
    stored = frozenset(t.symbol for t in targets if store.has(t.symbol, DAILY))
    job = ScanJob(job_cfg, opts.bars, stored)
    workers = opts.workers or os.cpu_count() or 1
    rows: list[ScanRow] = []
    count.total = len(targets)

    def on_results(done: list[ScanRow]) -> None:
        before = len(rows)
        rows.extend(done)
        count.done = len(rows)
        if opts.limit is not None and before < opts.limit <= len(rows):
            raise KeyboardInterrupt  # the test hook stops as Ctrl-C does (once)

    t0 = time.perf_counter()
    how = kernel_missing()
    if how is None:
        from bot.kernel.run import warm

        warm()  # compiled or loaded once here: forked workers inherit it
    run_chunks(
        job,
        targets,
        measure_chunk,
        on_results,
        workers=workers,
        scheduler=opts.scheduler,
        show=lambda: _progress(console, len(targets)),
        preload=("bot.scan.measure", "bot.kernel.run"),
    )
    seconds = time.perf_counter() - t0
    on = f"the Dask cluster at {opts.scheduler}" if opts.scheduler else f"{workers} local worker(s)"
    other = sorted({t.strategy.name for t in targets if unsupported_strategy(t.strategy)})
    signals = "the compiled kernel" if how is None else f"the strategy objects ({how})"
    if how is None and other:
        signals += f" ({', '.join(other)} by the strategy objects: not in the kernel)"
    return (
        universe,
        rows,
        f"{len(targets)} symbol(s) scanned in {seconds:.1f} s on {on}; signals by {signals}",
    )


def _legend(bars: int) -> str:
    return (
        "distance: last close vs the 52-week peak (the highest high of the sessions before "
        f"the last bar) and vs the nearest level, in %; signals: confirmed in the last {bars} "
        "bar(s)"
    )


@contextmanager
def _progress(console: Console, total: int) -> Iterator[Advance]:
    with progress_bar(console, total, "scan", min_total=1, unit="symbols") as update:
        done = 0
        show: Callable[[int], None] = update or (lambda n: None)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            show(done)

        yield advance
