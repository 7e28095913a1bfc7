"""Benchmarks (`make bench`): speed and memory of the engine, printed beside the targets.

Not a test: nothing here asserts. Figures are medians of several in-process runs,
imports and data loading excluded, as in issue 4. Machines here differ by 3x in speed, so
each speed figure is also printed as a ratio to a reference measured in the same run: the
plain Python loop of the same level rules (scripts/plainloop.py: no framework, the same
bars as Python lists, the same trades and equity curve, checked here) or a bare `python -c
pass` start.
- the bundled daily BABA backtest (2,872 bars), target <= 10 ms, beside the plain loop;
- 1,000,000 synthetic one-minute bars (seeded mean-reverting walk around the levels so
  hundreds of trades happen), target <= 2 s (>= 500,000 bars/s), in a fresh process
  whose peak RSS must stay <= 250 MB; in that process, after the engine's runs and the
  memory reading, the plain loop on the same bars: the engine's time is printed as a ratio
  to it, target <= 4x (issue 18; it was <= 6x for issue 13);
- paper mode: the work per new bar (bar in, decision and order intent out) with a
  journal attached, p99 <= 50 us, with little and with a million bars of history, beside
  the plain loop's mean time per bar;
- several symbols on one account (issue 14): scripts/bench_portfolio.py;
- alert latency, bar close to a local receiver (issue 15): scripts/bench_alerts.py;
- the compiled kernel of sweeps (issue 18) against vectorbt, the numpy lower bound and the
  engine, trade for trade: scripts/bench_kernel.py; sweep scoring and the walk-forward
  sweep's ratio to its scoring time: bot/sweep/bench.py;
- live mode (issue 10): broker requests per simulated session of `bot paper --broker
  alpaca` against the emulator with its clock moved fast (target <= 20), and how long a
  second `bot paper` on a locked state takes to refuse (target < 1 s), beside a bare
  `python -c pass` start measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config_load import load_settings  # noqa: E402
from bot.data.load import load_csv  # noqa: E402
from bot.data.series import BarSeries  # noqa: E402
from bot.engine.backtest import BacktestResult, build_engine, run_backtest  # noqa: E402
from bot.events.journal import Journal  # noqa: E402
from bot.events.outputs import JOURNAL_QUEUE, JournalSink  # noqa: E402
from bot.events.sinks import Publisher, QueuedSink  # noqa: E402
from bot.models import Bar  # noqa: E402
from bot.settings import Settings  # noqa: E402
from scripts.plainloop import (  # noqa: E402
    PlainResult,
    bar_lists,
    compare_trades,
    plain_backtest,
    unsupported,
)

MINUTE_CFG: dict[str, Any] = {
    "strategy": {"levels": [100.0], "peak_lookback_sessions": 20},
    "risk": {"sizing": "percent_equity", "stop_loss": True, "trailing_stop": True},
}


def synthetic_minutes(n: int, seed: int = 42) -> BarSeries:
    """A seeded mean-reverting walk around 100, as regular-hours 1-minute bars."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.05, n)
    close = np.empty(n)
    x = 100.0
    theta = 0.002  # pull back to 100: the price wanders about 1% and crosses the levels often
    for i in range(n):
        x += theta * (100.0 - x) + shocks[i]
        close[i] = x
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.03, n))
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.integers(1_000, 20_000, n).astype("float64")
    per_day = 390
    day = np.arange(n) // per_day
    # sessions on consecutive calendar days from 2000-01-03: weekends do not matter here
    session = 10_959 + day
    minute = np.arange(n) % per_day
    ts = (session * 86_400 + 14 * 3600 + 30 * 60 + minute * 60).astype("int64") * 1_000_000_000
    return BarSeries(
        ts, open_, high, low, close, volume, session.astype("int64"), "1m", "synthetic"
    )


def median_ms(*fns: Callable[[], object], runs: int) -> list[float]:
    """The median time of each function in ms, their runs interleaved (a, b, a, b, ...)
    so that a change in the machine's load weighs on both alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return [statistics.median(t) for t in times]


def same_as_engine(
    engine: BacktestResult, engine_signals: int, plain: PlainResult
) -> tuple[bool, str]:
    """Whether the plain loop gave the engine's trades, signals and equity curve, in words."""
    diffs = []
    trades = compare_trades(engine.trades, plain.trades)
    if trades is not None:
        diffs.append(trades)
    if engine_signals != plain.signals:
        diffs.append(f"signals: engine {engine_signals}, plain loop {plain.signals}")
    eq = np.asarray(plain.equity)
    if eq.shape != engine.equity.shape:
        diffs.append(f"equity curves of {len(engine.equity)} and {len(eq)} bars")
    elif not np.array_equal(eq, engine.equity):
        k = int(np.flatnonzero(eq != engine.equity)[0])
        diffs.append(f"equity differs from bar {k}: {engine.equity[k]:.6f} vs {eq[k]:.6f}")
    if diffs:
        return False, "; ".join(diffs)
    return True, (
        f"the same trades (times, shares, prices), signals ({plain.signals}) and equity at "
        "every bar"
    )


def bench_daily(s: Settings) -> None:
    series = load_csv(ROOT / "data" / "BABA_1d.csv").bars
    r = run_backtest(s, series)  # warm caches
    head = f"daily backtest, {len(series):,} bars:"
    if unsupported(s):
        (ms,) = median_ms(lambda: run_backtest(s, series), runs=15)
        ok = "OK" if ms <= 10 else "MISSED"
        print(f"{head} {ms:8.2f} ms   (target <= 10 ms)  {ok}")
        print(f"  no plain-loop reference: it does not implement {', '.join(unsupported(s))}")
        return
    bars = bar_lists(series)
    plain = plain_backtest(s, bars)
    ms, plain_ms = median_ms(
        lambda: run_backtest(s, series), lambda: plain_backtest(s, bars), runs=15
    )
    ok = "OK" if ms <= 10 else "MISSED"
    print(
        f"{head} {ms:8.2f} ms = {ms / plain_ms:.1f}x the plain loop's {plain_ms:.2f} ms"
        f"   (target <= 10 ms)  {ok}"
    )
    same, words = same_as_engine(r, len(r.record.signals), plain)
    print(
        f"  trades: plain loop {len(plain.trades)}, engine {len(r.trades)}; "
        + (words if same else f"DIFFERS: {words}")
    )


def bench_minutes_child(n: int) -> None:
    """Runs in a fresh process so its peak RSS is the run's own; the plain loop runs after
    the memory reading (its lists of Python floats would count otherwise)."""
    s = load_settings(None, MINUTE_CFG)
    series = synthetic_minutes(n)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times: list[float] = []
    for k in range(3):
        t0 = time.perf_counter()
        r = run_backtest(s, series)
        times.append(time.perf_counter() - t0)
        if k < 2:
            del r  # one result alive at a time; the last one is compared below
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, object] = {
        "seconds": statistics.median(times),
        "trades": len(r.trades),
        "rss_mb": peak / 1024,
        "base_mb": base_rss / 1024,
        "plain_seconds": None,
    }
    if unsupported(s):
        out["plain_words"] = "it does not implement " + ", ".join(unsupported(s))
    else:
        bars = bar_lists(series)
        plain_times: list[float] = []
        for _ in range(3):
            t0 = time.perf_counter()
            plain = plain_backtest(s, bars)
            plain_times.append(time.perf_counter() - t0)
        same, words = same_as_engine(r, len(r.record.signals), plain)
        out |= {
            "plain_seconds": statistics.median(plain_times),
            "plain_trades": len(plain.trades),
            "plain_same": same,
            "plain_words": words,
        }
    print(json.dumps(out))


def bench_minutes(n: int) -> float | None:
    """Prints the 1M-bar figures; returns the plain loop's seconds per bar (or None)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child-minutes", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    d = json.loads(out.stdout.strip().splitlines()[-1])
    secs = d["seconds"]
    rate = n / secs
    ok = "OK" if secs <= 2 else "MISSED"
    print(
        f"{n:,} minute bars: {secs:6.2f} s = {rate:,.0f} bars/s, {d['trades']} trades"
        f"   (target <= 2 s, >= 500,000 bars/s)  {ok}"
    )
    plain = d["plain_seconds"]
    if plain is None:
        print(f"  no plain-loop reference: {d['plain_words']}")
    else:
        ratio = secs / plain
        ok = "OK" if ratio <= 4 else "MISSED"
        print(
            f"{n:,} minute bars: engine {secs:.2f} s, plain loop {plain:.2f} s: {ratio:.1f}x "
            f"the plain loop (target <= 4x, issue 18)  {ok}"
        )
        words = d["plain_words"] if d["plain_same"] else f"DIFFERS: {d['plain_words']}"
        print(f"  trades: plain loop {d['plain_trades']}, engine {d['trades']}; {words}")
    ok = "OK" if d["rss_mb"] <= 250 else "MISSED"
    print(
        f"peak memory of that process: {d['rss_mb']:.0f} MB "
        f"(data + imports {d['base_mb']:.0f} MB)   (target <= 250 MB)  {ok}"
    )
    return None if plain is None else plain / n


def bench_paper_latency(history: int, plain_per_bar: float | None) -> None:
    s = load_settings(None, MINUTE_CFG)
    bars = synthetic_minutes(history + 20_000)
    # The journal behind its queue, as a paper run has it (writing nowhere).
    events = Publisher([QueuedSink(JournalSink(Journal(None)), JOURNAL_QUEUE)])
    engine = build_engine(s, events=events)
    it = bars.iter_bars()
    for _ in range(history):
        engine.step(next(it))
    lat = []
    clock = time.perf_counter_ns
    for bar in it:
        b = Bar(*bar)  # a freshly built bar, as a feed would deliver it
        t0 = clock()
        engine.step(b)
        lat.append(clock() - t0)
    events.close()
    arr = np.array(lat) / 1000
    p50, p99 = float(np.percentile(arr, 50)), float(np.percentile(arr, 99))
    vs = ""
    if plain_per_bar is not None:
        us = plain_per_bar * 1e6
        vs = f" = p50 {p50 / us:.1f}x, p99 {p99 / us:.1f}x the plain loop's {us:.2f} us a bar"
    print(
        f"paper step with {history:,} bars of history: p50 {p50:.1f} us, "
        f"p99 {p99:.1f} us, max {arr.max():.0f} us{vs}   (target p99 <= 50 us)  "
        + ("OK" if p99 <= 50 else "MISSED")
    )


def bench_live_requests() -> None:
    import tempfile
    from datetime import UTC, datetime

    from bot.emulator import EmulatorServer, EmulatorState, Faults
    from tests.test_live_schedule import KEY, SECRET, admin, live_run, live_settings

    state = EmulatorState.from_dir(ROOT / "data", datetime(2026, 2, 10, 17, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        tmp = Path(tempfile.mkdtemp())
        s = live_settings(srv.url, tmp)
        start, end = (
            datetime(2026, 2, 10, 17, 0, tzinfo=UTC),
            datetime(2026, 2, 18, 13, 0, tzinfo=UTC),
        )
        vt = live_run(s, srv.url, start, end)
        after = admin(srv.url, "stats")
    first = vt.first_sleep_stats or {"requests": 0}
    sessions = 5  # 02-10, 02-11, 02-12, 02-13, 02-17 (02-16 is a holiday)
    per = (after["requests"] - first["requests"]) / sessions
    print(
        f"live daily loop: {per:.1f} broker requests a session over {sessions} simulated "
        f"sessions (+{first['requests']} at start-up)   (target <= 20)  "
        + ("OK" if per <= 20 else "MISSED")
    )


def bench_second_instance(runs: int = 5) -> None:
    import os
    import tempfile

    from bot.store.lock import take_lock

    state = Path(tempfile.mkdtemp()) / "state"
    lock = take_lock(state)  # this process plays the running bot
    env = {**os.environ, "BOT_PAPER__STATE_DIR": str(state)}
    bot = [sys.executable, "-m", "bot", "paper", "--broker", "alpaca"]

    def timed(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
        return time.perf_counter() - t0

    bare = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(runs))
    refuse = statistics.median(timed(bot) for _ in range(runs))
    lock.release()
    print(
        f"second bot paper on a locked state refused in {refuse * 1000:.0f} ms "
        f"({refuse / bare:.1f}x a bare python start of {bare * 1000:.0f} ms)   "
        "(target < 1000 ms)  " + ("OK" if refuse < 1.0 else "MISSED")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child-minutes", type=int)
    ap.add_argument("--minutes", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.child_minutes:
        bench_minutes_child(args.child_minutes)
        return
    s = load_settings(None, {"risk": {"sizing": "fixed_shares"}})
    bench_daily(s)
    plain_per_bar = bench_minutes(args.minutes)
    bench_paper_latency(2_872, plain_per_bar)
    bench_paper_latency(1_000_000, plain_per_bar)
    bench_live_requests()
    bench_second_instance()
    from scripts.bench_portfolio import (  # imported here: not timed above
        bench_memory_per_symbol,
        bench_paper_minute,
        bench_portfolio_backtest,
        bench_scan,
    )

    bench_portfolio_backtest()
    bench_paper_minute(plain_per_bar)
    bench_memory_per_symbol()
    bench_scan()
    from scripts.bench_alerts import bench_alert_latency  # imported here: not timed above

    bench_alert_latency()
    from scripts.bench_kernel import main as bench_kernel  # imported here: not timed above

    bench_kernel()
    # In a process of its own, as `bot sweep` runs: this one has threads by now (the alert
    # benches), which make process pools start by forkserver instead of fork.
    subprocess.run([sys.executable, "-m", "bot.sweep.bench"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
