"""The commands that run the strategy: `bot signals`, `backtest`, `paper`, `emulator`.

`signals` and `backtest` read a bar file (`_load_range`); `paper` trades through the
engine against the emulator or an Alpaca paper account; `emulator` serves the local
paper server that `paper --emulator-url` can use. Heavy modules are imported inside the
commands (see bot.cli.common).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import ConfigOpt, DataOpt, SymbolOpt, app, read_settings, user_errors
from bot.config_load import ConfigError, load_settings
from bot.events.journal import FILE_ONLY, setup_logging
from bot.models import DataError
from bot.settings import Settings
from bot.store.lock import RunnerError, check_dir, take_lock

if TYPE_CHECKING:
    from bot.data.load import LoadResult
    from bot.data.series import BarSeries
    from bot.models import Signal

LOG = logging.getLogger("bot.cli")  # the logger name the log lines have always carried


@app.command()
@user_errors
def signals(
    config: ConfigOpt = None,
    symbol: SymbolOpt = None,
    data: DataOpt = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First date shown (earlier bars still warm up).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date used (inclusive).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table or json (one object per signal).")
    ] = "table",
) -> None:
    """Run the strategy over a symbol's bars and print its signals and its current status
    (a watchlist of several: every symbol's, one after the other)."""
    from bot.engine.scan import scan
    from bot.report.views import (
        make_console,
        print_load_summary,
        signal_table,
        signals_jsonl,
        status_table,
    )
    from bot.watchlist import due_reviews
    from strategies import build_strategy

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format must be 'table' or 'json', not {fmt!r}")
    watched = load_settings(config)
    # A watchlist of several, with no --symbol: each of them, one after the other.
    several = symbol is None and data is None and len(watched.symbols) > 1
    names = watched.symbols if several else [symbol or watched.symbol]
    console = make_console()
    for name in names:
        settings = watched.for_symbol(name)
        loaded, lo, hi, log_file = _load_range(settings, data, start, end, shown=fmt == "table")
        bars = loaded.bars
        strategy = build_strategy(settings.strategy)
        result = scan(strategy, bars, lo, hi)
        history = base_rates(settings, bars, hi, result.signals)
        if fmt == "json":
            if result.signals:
                print(signals_jsonl(result.signals, history))
            continue
        if several and name != names[0]:
            console.print()
        print_load_summary(console, loaded, log_file)
        console.print(f"{settings.symbol}: {strategy.describe()}", markup=False)
        for lv in settings.levels_of(settings.symbol):
            if lv.source or lv.note:  # where each level came from: the evidence beside the rules
                console.print(f"  level {lv.describe()}", markup=False)
        mine = {k: v for k, v in settings.watchlist.items() if k == settings.symbol}
        for line in due_reviews(mine, date.today()):
            console.print(f"  review due: {line}", style="yellow", markup=False)
        console.print(signal_table(result.signals, f"{len(result.signals)} signal(s)", history))
        last = hi - 1
        console.print(status_table(strategy.status(), float(bars.close[last]), int(bars.ts[last])))


def base_rates(
    settings: Settings, bars: BarSeries, hi: int, signals: list[Signal]
) -> list[str | None]:
    """Each signal's base rate (bot/study/baserate.py): the past cases of its tier at its
    level whose outcome had closed before it, from the bars up to `--to`; None for a
    signal about no level."""
    if not signals:
        return []
    import numpy as np

    from bot.study.baserate import StudyData

    study = StudyData.build(settings, settings.symbol, bars.take(np.arange(hi)))
    rates = [study.for_signal(sig) for sig in signals]
    return [None if r is None else r.sentence() for r in rates]


def _load_range(
    settings: Settings, data: Path | None, start: str | None, end: str | None, shown: bool
) -> tuple[LoadResult, int, int, Path | None]:
    """Load the bar file and the index range [lo, hi) asked for; also the log file that
    holds every rejected row and loader note, when there are some (None: no log file).
    `shown`: the caller prints a summary of them, so the console gets no copy per row."""
    from bot.data.load import symbol_warning
    from bot.data.source import load_bars

    setup_logging(None)
    source = load_bars(settings, settings.symbol, data)
    loaded, path = source.loaded, source.path
    mismatch = symbol_warning(path, settings.symbol) if path is not None else None
    log_file = _log_file(settings) if (loaded.rejected or loaded.notes or mismatch) else None
    if mismatch:
        LOG.warning(mismatch)
    quiet = FILE_ONLY if shown else None  # the summary shows them all when log_file is None
    for rej in loaded.rejected:
        LOG.warning("rejected bar: %s", rej, extra=quiet)
    for note in loaded.notes:
        LOG.info("data note: %s", note, extra=quiet)
    bars = loaded.bars
    lo = bars.index_of(start) if start else 0
    hi = bars.index_of(end_of_day(end), side="right") if end else len(bars)
    if hi <= lo:
        raise DataError(f"no bars in {bars.source} between {start or 'start'} and {end or 'end'}")
    return loaded, lo, hi, log_file


def _log_file(settings: Settings) -> Path | None:
    """Start writing `bot.log` in the log folder; None if that folder cannot be used."""
    from bot.events.journal import secret_values_of
    from bot.store.lock import private_dir

    log_dir = Path(settings.paper.log_dir)
    try:
        setup_logging(
            private_dir(log_dir),
            max_bytes=settings.paper.log_max_bytes,
            backups=settings.paper.log_backups,
            secrets=secret_values_of(settings),
        )
    except OSError:
        setup_logging(None)
        return None
    return log_dir / "bot.log"


def end_of_day(day: str) -> str:
    """A date given alone means the whole day."""
    return f"{day}T23:59:59.999" if len(day) <= 10 else day


@app.command()
@user_errors
def backtest(
    config: ConfigOpt = None,
    symbol: SymbolOpt = None,
    data: DataOpt = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First bar to trade (earlier bars warm up).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date traded (inclusive).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder for metrics.json, trades.csv, equity.csv, chart.html."),
    ] = None,
    png: Annotated[bool, typer.Option("--png", help="Also write chart.png.")] = False,
) -> None:
    """Backtest the strategy on history through the same engine that trades paper."""
    from bot.engine.backtest import run_backtest, run_folder_events
    from bot.report.runfolder import compute_metrics, metrics_table, write_run
    from bot.report.views import make_console, print_load_summary, progress_bar, trades_table

    watched = load_settings(config)
    folder = out or default_run_dir()
    check_dir(folder, "output folder", "--out")  # before the run, not after it
    if symbol is None and data is None and len(watched.symbols) > 1:
        _portfolio_backtest(watched, start, end, folder, png)
        return
    settings = watched.for_symbol(symbol or watched.symbol)
    loaded, lo, hi, log_file = _load_range(settings, data, start, end, shown=True)
    bars = loaded.bars
    console = make_console()
    print_load_summary(console, loaded, log_file)
    events = run_folder_events(folder)
    try:
        with progress_bar(console, hi - lo, "backtest") as advance:
            result = run_backtest(settings, bars, lo, hi, events=events, progress=advance)
    finally:
        events.close()
    metrics = compute_metrics(result)
    console.print(trades_table(result.trades))
    console.print(metrics_table(metrics))
    files = {**write_run(result, folder, png=png), "events": folder / "events.jsonl"}
    console.print(f"Wrote {len(files)} files to {folder}/:")
    for name, path in files.items():
        console.print(f"  {name:<15} {path}")


def _portfolio_backtest(
    settings: Settings, start: str | None, end: str | None, folder: Path, png: bool
) -> None:
    """Every watched symbol on one account (bot/engine/multirun.py)."""
    from bot.engine.backtest import run_folder_events
    from bot.engine.multirun import run_portfolio
    from bot.report.portfolio import write_portfolio_run
    from bot.report.runfolder import metrics_table
    from bot.report.views import make_console, print_load_summary, progress_bar, symbols_table

    console = make_console()
    series, spans = {}, {}
    for sym in settings.symbols:
        loaded, lo, hi, log_file = _load_range(settings.for_symbol(sym), None, start, end, True)
        print_load_summary(console, loaded, log_file)
        series[sym], spans[sym] = loaded.bars, (lo, hi)
    events = run_folder_events(folder)
    total = sum(hi - lo for lo, hi in spans.values())
    try:
        with progress_bar(console, total, "backtest") as advance:
            result = run_portfolio(settings, series, spans, events=events, progress=advance)
    finally:
        events.close()
    files = write_portfolio_run(result, folder, png=png)
    summary = json.loads(files["metrics"].read_text(encoding="utf-8"))
    console.print(symbols_table(summary["symbols"]))
    console.print(metrics_table(summary["portfolio"] | {"symbol": "portfolio"}))
    console.print(f"Wrote {len(files)} files and folders to {folder}/:")
    for name, path in files.items():
        console.print(f"  {name:<15} {path}")


def default_run_dir() -> Path:
    from datetime import datetime

    return Path("runs") / datetime.now().strftime("backtest-%Y%m%d-%H%M%S")


@app.command()
@user_errors
def paper(
    config: ConfigOpt = None,
    symbol: SymbolOpt = None,
    broker: Annotated[
        str, typer.Option(help="emulator (offline, default) or alpaca (your paper account).")
    ] = "emulator",
    emulator_url: Annotated[
        str | None, typer.Option(help="Use a running `bot emulator` instead of an in-process one.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Replay this CSV; else the store's bars, else (default: paper.replay_data)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First bar to trade in the replay.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last bar of the replay.")] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Replay speed in bars per second (0 = as fast as possible)."),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="State directory (default: paper.state_dir).")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Emulator replays only: start from an empty state.")
    ] = False,
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Take the broker's orders and position as the truth.")
    ] = False,
    live: Annotated[
        bool,
        typer.Option("--live", help="Second opt-in for live trading (needs alpaca.allow_live)."),
    ] = False,
) -> None:
    """Paper-trade: replay bars against the emulator, or trade your Alpaca paper account."""
    watched = load_settings(config)
    # A watchlist of several, with no --symbol: all of them on one account.
    several = symbol is None and data is None and len(watched.symbols) > 1
    settings = watched if several else watched.for_symbol(symbol or watched.symbol)
    lock_dir = Path(state_dir or settings.paper.state_dir)
    try:
        lock = take_lock(lock_dir)  # before the heavy imports: a second runner stops here
    except RunnerError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(exc.code) from None
    try:
        from bot.live.paper import PaperOptions, run_paper
        from bot.report.views import make_console

        opts = PaperOptions(
            broker, emulator_url, data, start, end, speed, state_dir, fresh, adopt, live, several
        )
        code = run_paper(settings, opts, make_console())
    finally:
        lock.release()
    raise typer.Exit(code)


@app.command()
@user_errors
def emulator(
    config: ConfigOpt = None,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default: emulator.port).")
    ] = None,
) -> None:
    """Run the local Alpaca-compatible paper server (127.0.0.1 only) until Ctrl-C."""
    from bot.emulator import serve

    settings = read_settings(config)
    if port is not None:
        settings.emulator.port = port
    # Without keys in the environment it accepts emulator-key / emulator-secret.
    key = settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None
    secret = settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None
    serve(settings, key, secret)
