"""Benchmarks of several symbols on one account (issue 14), printed by `make bench`.

Each speed figure is a ratio to the plain loop of the same rules (scripts/plainloop.py)
run over the same bars in the same process, symbol by symbol:
- a portfolio backtest of 100 synthetic symbols over 11 years of daily bars (BABA's
  2,872 bars, each symbol's prices scaled and jittered by a seeded factor). Sizing is
  fixed shares on an account large enough that no limit binds, so each symbol's trades
  must be exactly its plain loop's: checked, and printed;
- paper mode: the work when a minute bar arrives for each of 100 symbols (marks, 100
  engine steps, the journal behind its queue), p50 and p99 against the 20 ms target,
  beside 100 times the plain loop's time a bar;
- memory per symbol held in paper mode: the traced allocations of 100 engines with a
  day of minute bars behind each, divided by 100;
- `bot scan` of 500 symbols with a year of daily bars each on 2 local workers, beside
  the plain loop over the same bars in one process.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np

from bot.broker.shared import SymbolBroker
from bot.broker.sim import SimBroker
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.engine.account import SharedAccount
from bot.engine.backtest import build_risk
from bot.engine.core import Engine
from bot.engine.multirun import run_portfolio
from bot.events.journal import Journal
from bot.events.outputs import JOURNAL_QUEUE, JournalSink
from bot.events.sinks import Publisher, QueuedSink
from bot.models import Bar
from bot.settings import Settings
from scripts.plainloop import bar_lists, compare_trades, plain_backtest
from strategies import build_strategy

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = 100


def _settings() -> Settings:
    big = {
        "broker": {"initial_cash": 1e11},
        "risk": {"sizing": "fixed_shares"},
        "portfolio": {
            "max_open_positions": 1000,
            "max_gross_exposure_pct": 1000.0,
            "max_symbol_pct": 1000.0,
        },
    }
    # The shipped watchlist (BABA) set aside: these symbols take the [strategy] tables.
    return load_settings(None, big).model_copy(update={"watchlist": {}})


def _universe(base: BarSeries, n: int, seed: int = 7) -> dict[str, BarSeries]:
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n):
        f = float(rng.uniform(0.5, 2.0))
        jitter = 1.0 + rng.normal(0.0, 0.002, len(base))
        o, h, lo, c = (col * f * jitter for col in (base.open, base.high, base.low, base.close))
        h, lo = np.maximum.reduce([h, o, c]), np.minimum.reduce([lo, o, c])
        sym = f"S{k:03d}"
        out[sym] = BarSeries(base.ts, o, h, lo, c, base.volume, base.session, base.timeframe,
                             "synthetic", sym)  # fmt: skip
    return out


def bench_portfolio_backtest() -> None:
    s = _settings()
    base = load_csv(ROOT / "data" / "BABA_1d.csv").bars
    series = _universe(base, SYMBOLS)
    spans = {sym: (0, len(b)) for sym, b in series.items()}
    lists = {sym: bar_lists(b) for sym, b in series.items()}
    mine = {sym: s.model_copy(update={"symbol": sym}) for sym in series}
    t0 = time.perf_counter()
    result = run_portfolio(s, series, spans)
    engine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = {sym: plain_backtest(mine[sym], lists[sym]) for sym in series}
    plain_s = time.perf_counter() - t0
    diffs = [
        sym
        for sym in series
        if compare_trades(result.results[sym].trades, plain[sym].trades) is not None
    ]
    bars = sum(len(b) for b in series.values())
    trades = sum(len(r.trades) for r in result.results.values())
    print(
        f"portfolio backtest, {SYMBOLS} symbols x {len(base):,} daily bars ({bars:,} bars, "
        f"{trades:,} trades): {engine_s:.2f} s = {engine_s / plain_s:.1f}x the plain loop's "
        f"{plain_s:.2f} s over the same symbols   (target: a ratio, printed)"
    )
    print(
        "  trades: "
        + (
            "each symbol's equal to its plain loop's"
            if not diffs
            else f"DIFFER for {len(diffs)} symbol(s), e.g. {diffs[0]}"
        )
    )


def _minute_universe(n_bars: int) -> dict[str, BarSeries]:
    from scripts.bench import synthetic_minutes

    return {
        f"M{k:03d}": _renamed(synthetic_minutes(n_bars, seed=100 + k), f"M{k:03d}")
        for k in range(SYMBOLS)
    }


def _renamed(b: BarSeries, sym: str) -> BarSeries:
    return BarSeries(b.ts, b.open, b.high, b.low, b.close, b.volume, b.session, b.timeframe,
                     b.source, sym)  # fmt: skip


def _engines(s: Settings, events: Publisher, symbols: list[str]) -> dict[str, Engine]:
    sim = SimBroker(s.broker, allow_short=s.risk.allow_short)
    account = SharedAccount(s.broker.initial_cash, s.portfolio)
    out = {}
    for sym in symbols:
        mine = s.model_copy(update={"symbol": sym})
        out[sym] = Engine(build_strategy(mine.strategy), build_risk(mine), SymbolBroker(sim, sym),
                          0.0, events=events, trailing=mine.risk.trailing_stop,
                          account=account)  # fmt: skip
    return out


def bench_paper_minute(plain_per_bar: float | None) -> None:
    from scripts.bench import MINUTE_CFG

    s = load_settings(None, MINUTE_CFG | {"broker": {"initial_cash": 1e9}}).model_copy(
        update={"watchlist": {}}
    )
    history, measured = 390, 390
    series = _minute_universe(history + measured)
    events = Publisher([QueuedSink(JournalSink(Journal(None)), JOURNAL_QUEUE)])
    engines = _engines(s, events, list(series))
    account = next(iter(engines.values())).account
    assert account is not None
    rows = {sym: list(b.iter_bars()) for sym, b in series.items()}
    for i in range(history):
        for sym, e in engines.items():
            e.step(rows[sym][i])
    lat = []
    clock = time.perf_counter_ns
    for i in range(history, history + measured):
        group = [Bar(*rows[sym][i]) for sym in engines]  # as a feed delivers them
        t0 = clock()
        for bar in group:
            account.mark(bar.symbol, bar.close)
        for bar in group:
            engines[bar.symbol].step(bar)
        lat.append(clock() - t0)
    events.close()
    ms = np.array(lat) / 1e6
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    vs = ""
    if plain_per_bar is not None:
        ref = plain_per_bar * SYMBOLS * 1000
        vs = f" = p50 {p50 / ref:.1f}x, p99 {p99 / ref:.1f}x the plain loop's {ref:.3f} ms"
    print(
        f"paper, a minute bar for each of {SYMBOLS} symbols: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        f"{vs}   (target p99 <= 20 ms)  " + ("OK" if p99 <= 20 else "MISSED")
    )


def bench_memory_per_symbol() -> None:
    from scripts.bench import MINUTE_CFG

    s = load_settings(None, MINUTE_CFG | {"broker": {"initial_cash": 1e9}}).model_copy(
        update={"watchlist": {}}
    )
    series = _minute_universe(390)
    rows = {sym: list(b.iter_bars()) for sym, b in series.items()}
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engines = _engines(s, Publisher(), list(series))
    for i in range(390):
        for sym, e in engines.items():
            e.step(rows[sym][i])
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per = held / SYMBOLS / 1024
    print(
        f"paper memory: {per:,.0f} KiB per symbol held (an engine with a day of minute bars "
        f"behind it; {SYMBOLS} symbols {held / 2**20:,.1f} MiB)   (target: printed)"
    )


def bench_scan(workers: int = 2, n: int = 500) -> None:
    """`bot scan` of `n` symbols with a year of daily bars each, in a scratch store, on
    `workers` local processes; beside the plain loop of the level rules over the same
    bars, symbol by symbol, in this process (the signals a scan reports come from them)."""
    import tempfile

    from rich.console import Console

    from bot.data.store import BarStore
    from bot.scan.run import ScanOptions, run_scan

    base = load_csv(ROOT / "data" / "BABA_1d.csv").bars
    year = base.slice(len(base) - 252, len(base))
    series = _universe(year, n, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = BarStore(root / "store")
        for b in series.values():
            store.write(b)
        universe = root / "universe.txt"
        universe.write_text("\n".join(series) + "\n", encoding="utf-8")
        s = _settings().model_copy(
            update={"data": _settings().data.model_copy(update={"store": str(root / "store")})}
        )
        opts = ScanOptions(out=root / "out", workers=workers)
        quiet = Console(file=open(root / "console.txt", "w"), width=120)  # noqa: SIM115
        t0 = time.perf_counter()
        outcome = run_scan(universe, s, opts, quiet)
        scan_s = time.perf_counter() - t0
        quiet.file.close()
    mine = {sym: s.model_copy(update={"symbol": sym}) for sym in series}
    t0 = time.perf_counter()
    for sym, b in series.items():
        plain_backtest(mine[sym], bar_lists(b))
    plain_s = time.perf_counter() - t0
    ok = sum(1 for r in outcome.rows if r.status == "ok")
    print(
        f"scan of {n} symbols x {len(year)} daily bars on {workers} local workers: {scan_s:.2f} s"
        f" ({ok} measured) = {scan_s / plain_s:.1f}x the plain loop's {plain_s:.2f} s over "
        "the same bars in one process   (target: a ratio, printed)"
    )
