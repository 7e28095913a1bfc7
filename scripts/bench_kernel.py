"""The compiled kernel's benchmark (`make bench`, issue 18): prints figures, asserts nothing.

Every speed figure is a ratio to a reference measured in the same run (machines here
differ by 3x), printed next to its target:
1. 1,000 combinations on the bundled daily BABA bars (the grid of bot/sweep/bench.py),
   scored by the kernel in one process, beside vectorbt doing comparable work on the
   same grid in one process (scripts/bench_vectorbt.py, run in its own venv
   `.venv-bench`, never a project dependency). Target: as fast or faster (<= 1x).
   Then every one of the 1,000 is traded by the engine too, and its trades, equity,
   position and figures are compared with the kernel's.
2. 100 combinations over 1,000,000 synthetic one-minute bars (stops and a trailing stop
   on), scored by the kernel in one process, beside the numpy lower bound: the same
   entry and exit conditions with numpy's whole-array operations (thresholds, runs of
   confirming closes by cumulative sums, the volume rule, the position carried from
   entry to exit, the returns and their Sharpe ratio), with no stops, sizing, costs or
   order book, so less work than the kernel does: any numpy evaluation of these rules
   costs at least that. Target <= 2x. Then every combination through the engine, compared.
The walk-forward sweep's ratio to its scoring time is bot/sweep/bench.py's.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config_load import load_settings  # noqa: E402
from bot.data.load import load_csv  # noqa: E402
from bot.data.series import BarSeries  # noqa: E402
from bot.kernel import missing  # noqa: E402
from bot.kernel import series as ind  # noqa: E402
from bot.parallel import run_pool  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.sweep.bench import NAMES as DAILY_NAMES  # noqa: E402
from bot.sweep.bench import VALUES as DAILY_VALUES  # noqa: E402
from bot.sweep.combo import SectionCache  # noqa: E402
from bot.sweep.evaluate import Evaluator, SweepJob  # noqa: E402
from bot.sweep.params import SECTIONS, Value, make_grid  # noqa: E402
from scripts.bench import MINUTE_CFG, synthetic_minutes  # noqa: E402

PEER_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
MINUTE_NAMES = (
    "strategy.confirm_closes",
    "strategy.breakout_buffer_pct",
    "strategy.breakdown_buffer_pct",
)
MINUTE_VALUES: tuple[tuple[Value, ...], ...] = (
    (1, 2, 3, 4, 5),
    (0.0, 0.05, 0.1, 0.2),
    (0.05, 0.1, 0.2, 0.5, 1.0),
)
Todo = list[tuple[int, tuple[Value, ...]]]


def _job(
    series: BarSeries, base: Settings, names: tuple[str, ...], token: str, kernel: bool
) -> SweepJob:
    sections = {n: getattr(base, n).model_dump() for n in SECTIONS}
    return SweepJob(series, base.symbol, sections, names, ((0, len(series)),), token, kernel)


def kernel_seconds(job: SweepJob, todo: Todo, repeats: int) -> float:
    """Median time to score `todo` with the kernel in this process, from a new Evaluator
    each time (its indicator and signal caches start empty; the machine code is loaded)."""
    times = []
    for _ in range(repeats):
        ev = Evaluator(job)
        t0 = time.perf_counter()
        for i, values in todo:
            ev.evaluate(i, values)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peer_vectorbt() -> dict[str, Any] | str:
    """vectorbt's figures (scripts/bench_vectorbt.py in .venv-bench), or why there are none."""
    if not PEER_PYTHON.exists():
        return "not measured: no .venv-bench (make bench-peers-env could not install vectorbt)"
    out = subprocess.run(
        [str(PEER_PYTHON), str(ROOT / "scripts" / "bench_vectorbt.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return f"not measured: bench_vectorbt.py failed: {out.stderr.strip()[-300:]}"
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _equal_traces(job: SweepJob, chunk: Sequence[tuple[int, tuple[Value, ...]]]) -> list[str]:
    """For each combination, "" when the kernel and the engine agree on its trades (every
    field), equity and position at every bar and every figure; else where they differ."""
    from bot.kernel.run import Kernel

    engine = _ENGINE.get(job.token)
    if engine is None:
        _ENGINE.clear()
        engine = _ENGINE[job.token] = Evaluator(job)
    kernel = Kernel(job.series)
    sections = SectionCache(job)
    out = []
    for _, values in chunk:
        settings = sections.settings(values)
        ((start, stop),) = job.runs
        equity, position, trades = engine.trace(values, start, stop)
        run = kernel.run(settings, start, stop)
        mine = [_trade_key(t) for t in kernel.trades(run, settings.symbol)]
        theirs = [_trade_key(t) for t in trades]
        diffs = []
        if mine != theirs:
            diffs.append(f"trades ({len(theirs)} engine, {len(mine)} kernel)")
        if not np.array_equal(equity, run.equity) or not np.array_equal(position, run.position):
            diffs.append("equity or position")
        if (
            engine.run(settings, engine.signals(settings.strategy), start, stop)
            != kernel.rows(settings, job.runs)[0]
        ):
            diffs.append("figures")
        out.append(f"{values}: " + ", ".join(diffs) if diffs else "")
    return out


_ENGINE: dict[str, Evaluator] = {}


def _trade_key(t: Any) -> tuple[Any, ...]:
    return (
        t.side,
        t.qty,
        t.entry_ts,
        t.entry_price,
        t.exit_ts,
        t.exit_price,
        t.pnl,
        t.commission,
        t.level,
    )


def check_all(job: SweepJob, todo: Todo, workers: int) -> str:
    """Every combination traded by the engine and by the kernel, compared, in words."""
    found: list[str] = []
    chunks = [todo[i : i + 10] for i in range(0, len(todo), 10)]
    run_pool(job, chunks, _check_chunk, lambda rs: found.extend(x for r in rs for x in r), workers)
    bad = [f for f in found if f]
    if not bad:
        return (
            f"every one of the {len(found):,} combinations: the kernel's trades (every field), "
            "equity and position at every bar, and figures equal the engine's"
        )
    return f"{len(bad)} of {len(found):,} combinations DIFFER from the engine, e.g. {bad[0]}"


def _check_chunk(job: SweepJob, chunks: Sequence[Todo]) -> list[list[str]]:
    return [_equal_traces(job, c) for c in chunks]


def numpy_lower_bound(
    close: np.ndarray,
    volume: np.ndarray,
    vmean: np.ndarray,
    levels: Sequence[np.ndarray | float],
    n: int,
    up: float,
    dn: float,
    multiple: float,
    periods_per_year: float,
) -> float:
    """The Sharpe ratio of the rules' position, vectorized with numpy (see the docstring)."""
    entry = np.zeros(len(close), dtype=bool)
    leave = np.zeros(len(close), dtype=bool)
    for level in levels:
        for mask, out in ((close > level * up, entry), (close < level * dn, leave)):
            runs = np.cumsum(mask)
            runs[n:] -= runs[:-n].copy()
            out |= runs >= n
    if multiple > 0:
        entry &= volume >= multiple * vmean
    state = np.where(entry, 1, np.where(leave, 0, -1))
    last = np.where(state >= 0, np.arange(len(state)), 0)
    np.maximum.accumulate(last, out=last)
    position = np.where(state[last] > 0, 1.0, 0.0)
    returns = position[:-1] * (np.diff(close) / close[:-1])
    std = returns.std()
    return float(returns.mean() / std * math.sqrt(periods_per_year)) if std > 0 else 0.0


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_daily(workers: int) -> None:
    base = load_settings(None)
    series = load_csv(ROOT / "data" / "BABA_1d.csv").bars
    grid = make_grid(DAILY_NAMES, DAILY_VALUES, None, 0)
    todo = [(i, grid.combo(i)) for i in grid.indices]
    job = _job(series, base, DAILY_NAMES, "kernel-daily", kernel=True)
    secs = kernel_seconds(job, todo, repeats=5)
    head = f"kernel, {len(todo):,} combinations x {len(series):,} daily bars, one process:"
    peer = peer_vectorbt()
    if isinstance(peer, str):
        print(f"{head} {secs:.3f} s; vectorbt {peer}")
    else:
        ratio = secs / peer["seconds_median"]
        ok = "OK" if ratio <= 1 else "MISSED"
        print(
            f"{head} {secs:.3f} s = {ratio:.2f}x vectorbt {peer['version']}'s "
            f"{peer['seconds_median']:.3f} s on the same grid   (target <= 1x)  {ok}"
        )
    print(
        "  "
        + check_all(_job(series, base, DAILY_NAMES, "check-daily", kernel=False), todo, workers)
    )


def bench_minutes(workers: int, n: int = 1_000_000) -> None:
    series = synthetic_minutes(n)
    s = load_settings(None)
    d = s.model_dump()
    for section, values in MINUTE_CFG.items():
        d[section].update(values)
    base = Settings.model_validate(d)
    grid = make_grid(MINUTE_NAMES, MINUTE_VALUES, None, 0)
    todo = [(i, grid.combo(i)) for i in grid.indices]
    job = _job(series, base, MINUTE_NAMES, "kernel-minutes", kernel=True)
    secs = kernel_seconds(job, todo, repeats=3)
    st = base.strategy
    vmean = ind.volume_mean_before(series.volume, st.volume_lookback)  # type: ignore[union-attr]
    peak = ind.session_peak(series.session, series.high, st.peak_lookback_sessions)  # type: ignore[union-attr]
    close, volume = series.close, series.volume
    ppy = series.timeframe.periods_per_year

    def lower_bound() -> None:
        for _, values in todo:
            n_, up, dn = values
            assert isinstance(n_, int) and isinstance(up, float) and isinstance(dn, float)
            numpy_lower_bound(
                close, volume, vmean, (100.0, peak), n_, 1 + up / 100, 1 - dn / 100,
                st.volume_multiple, ppy,  # type: ignore[union-attr]
            )  # fmt: skip

    low = median_s(lower_bound, repeats=3)
    ratio = secs / low
    ok = "OK" if ratio <= 2 else "MISSED"
    print(
        f"kernel, {len(todo)} combinations x {n:,} one-minute bars (stops, trailing), one "
        f"process: {secs:.2f} s = {ratio:.2f}x the numpy lower bound's {low:.2f} s   "
        f"(target <= 2x)  {ok}"
    )
    t0 = time.perf_counter()
    words = check_all(
        _job(series, base, MINUTE_NAMES, "check-minutes", kernel=False), todo, workers
    )
    print(f"  {words} (the engine took {time.perf_counter() - t0:.0f} s on {workers} workers)")


def main() -> None:
    why = missing()
    if why is not None:
        print(f"kernel: not measured: {why}")
        return
    from bot.kernel.run import warm

    print(f"kernel: compiled or loaded from numba's cache in {warm():.1f} s")
    workers = os.cpu_count() or 1
    bench_daily(workers)
    bench_minutes(workers)


if __name__ == "__main__":
    main()
