"""Sweep benchmark (`make bench`, or `python -m bot.sweep.bench`): prints, asserts nothing.

1. Scoring: 1,000 combinations of the breakout rules (confirm_closes x breakout and
   breakdown buffers x volume_multiple) on the bundled daily history (2,872 bars), each
   over the whole file, on every local core: worker start-up, scoring and collecting
   the results included; loading the CSV excluded. Target <= 3 s. Then 20 of them,
   drawn at random, are re-run through `run_backtest` + `compute_metrics` and every
   figure is compared.
   Scored by the compiled kernel (bot.kernel) where numba is installed; the engine's
   time for the same 1,000 is printed beside it.
2. The same 1,000 as a full walk-forward sweep through `run_sweep` (rolling windows,
   train 756 / test 252 bars, every output written): each combination is then run on
   the whole range, every train and test window and the final window, about 4x the
   bars of step 1. Its whole time (windows, the choice per window, the chosen sets
   re-run by `run_backtest` as a check, results.csv and report.html written) as a ratio
   to its scoring time, target < 3x (issue 18): the fixed costs must not swamp a fast
   scoring.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bot.config_load import PROJECT_ROOT, load_settings
from bot.data.load import load_csv
from bot.engine.backtest import run_backtest
from bot.kernel import missing
from bot.report.runfolder import compute_metrics
from bot.sweep.combo import settings_for
from bot.sweep.evaluate import ComboResult, SweepJob
from bot.sweep.execute import execute
from bot.sweep.metrics import METRIC_KEYS
from bot.sweep.params import SECTIONS, make_grid
from bot.sweep.run import Options, run_sweep

DAILY = PROJECT_ROOT / "data" / "BABA_1d.csv"
NAMES = (
    "strategy.confirm_closes",
    "strategy.breakout_buffer_pct",
    "strategy.breakdown_buffer_pct",
    "strategy.volume_multiple",
)
VALUES = (
    (1, 2, 3, 4, 5),
    tuple(round(0.25 * i, 2) for i in range(10)),
    (0.5, 1.0, 1.5, 2.0),
    (0.0, 1.0, 1.5, 2.0, 2.5),
)
SWEEP_TOML = """
objective = "sharpe"
[data]
path = "{data}"
[parameters]
"strategy.confirm_closes" = [1, 2, 3, 4, 5]
"strategy.breakout_buffer_pct" = {{start = 0.0, stop = 2.25, step = 0.25}}
"strategy.breakdown_buffer_pct" = [0.5, 1.0, 1.5, 2.0]
"strategy.volume_multiple" = [0.0, 1.0, 1.5, 2.0, 2.5]
[walk_forward]
train_bars = 756
test_bars = 252
"""


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    assert isinstance(a, int | float) and isinstance(b, int | float)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def bench_scoring(workers: int, repeats: int = 3, kernel: bool = True) -> float:
    base = load_settings(None)
    series = load_csv(DAILY).bars
    grid = make_grid(NAMES, VALUES, None, 0)
    sections = {n: getattr(base, n).model_dump() for n in SECTIONS}
    todo = [(i, grid.combo(i)) for i in grid.indices]
    times: list[float] = []
    results: dict[int, ComboResult] = {}
    for r in range(repeats):
        # A new token each time: workers must build their bars again, as in a real sweep.
        job = SweepJob(
            series, base.symbol, sections, NAMES, ((0, len(series)),), f"bench{r}", kernel
        )
        results.clear()
        t0 = time.perf_counter()
        execute(job, todo, lambda res: results.__setitem__(res.index, res), workers=workers)
        times.append(time.perf_counter() - t0)
    secs = statistics.median(times)
    if not kernel:
        print(
            f"  the engine alone (--engine): median {secs:.2f} s = "
            f"{secs / len(todo) * 1000:.2f} ms per combination"
        )
        return secs
    ok = "OK" if secs <= 3 else "MISSED"
    how = "the compiled kernel" if missing() is None else f"the engine ({missing()})"
    print(
        f"sweep scoring by {how}: {len(todo):,} combinations x {len(series):,} daily bars on "
        f"{workers} worker(s): median {secs:.2f} s, best {min(times):.2f} s = "
        f"{secs / len(todo) * 1000:.2f} ms per combination   (target <= 3 s)  {ok}"
    )
    checked, bad = 0, 0
    for i in random.Random(1).sample(grid.indices, 20):
        engine = compute_metrics(run_backtest(settings_for(job, grid.combo(i)), series))
        row = results[i].rows[0]
        bad += sum(
            1
            for k, v in zip(METRIC_KEYS, row, strict=True)
            if k in engine and not _close(v, engine[k])
        )
        checked += 1
    print(
        f"  {checked} random combinations re-run with run_backtest + compute_metrics: "
        + ("every figure equal" if bad == 0 else f"{bad} figure(s) DIFFER")
    )
    return secs


def bench_walk_forward(workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep.toml"
        sweep.write_text(SWEEP_TOML.format(data=DAILY.as_posix()), encoding="utf-8")
        t0 = time.perf_counter()
        outcome = run_sweep(sweep, Options(out=Path(tmp) / "out", workers=workers))
        secs = time.perf_counter() - t0
    runs = len(outcome.prep.plan.runs)
    ratio = secs / outcome.seconds
    ok = "OK" if ratio < 3 else "MISSED"
    print(
        f"walk-forward sweep: {len(outcome.results):,} combinations x {runs} runs each "
        f"({outcome.prep.plan.windows} windows), outputs written: {secs:.2f} s = {ratio:.1f}x "
        f"its scoring time of {outcome.seconds:.2f} s   (target < 3x)  {ok}"
    )
    print(f"  {outcome.lines[0]}; {len(outcome.warnings)} mismatch(es) with run_backtest")


def main() -> None:
    workers = os.cpu_count() or 1
    bench_scoring(workers)
    if missing() is None:
        bench_scoring(workers, repeats=1, kernel=False)
    bench_walk_forward(workers)


if __name__ == "__main__":
    main()
