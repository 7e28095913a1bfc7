"""The `bot` command (typer): parses options, calls the engine, prints results.

Commands only, no trading logic. Every user-facing error (bad config, bad data file)
ends with one clear message on stderr and exit code 2, never a traceback. Heavy
modules (pandas, the SDK, the engine) are imported inside the commands, so that `bot
paper` takes its state lock first: a second runner is refused within moments.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import click
import typer

from bot import lifecycle
from bot.events.journal import FILE_ONLY, setup_logging
from bot.models import DataError
from bot.settings import (
    ConfigError,
    Settings,
    load_settings,
    resolve_config_path,
    resolve_data_path,
)
from bot.store.lock import RunnerError, check_dir, take_lock

if TYPE_CHECKING:
    from bot.data.load import LoadResult

app = typer.Typer(
    help="Technical-analysis signal bot: signals, backtests and Alpaca paper trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
LOG = logging.getLogger("bot.cli")
F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (default: $BOT_CONFIG or config/default.toml)."
    ),
]


def user_errors(func: F) -> F:
    """Turn expected user errors into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, DataError) as exc:
            kind = "config" if isinstance(exc, ConfigError) else "data"
            print(f"{kind} error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except RunnerError as exc:  # a folder or port that cannot be used, and why
            print(str(exc), file=sys.stderr)
            raise typer.Exit(exc.code) from None
        except OSError as exc:
            if exc.filename is None:
                raise
            # A file or folder the command could not write after all (disk full, ...).
            print(f"cannot use {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


@app.command()
@user_errors
def signals(
    config: ConfigOpt = None,
    data: Annotated[Path | None, typer.Option(help="CSV of bars (default: data.path).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First date shown (earlier bars still warm up).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date used (inclusive).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table or json (one object per signal).")
    ] = "table",
) -> None:
    """Run the strategy over a bar file and print its signals and its current status."""
    from bot.engine.scan import scan
    from bot.report.views import (
        make_console,
        print_load_summary,
        signal_table,
        signals_jsonl,
        status_table,
    )
    from strategies import build_strategy

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format must be 'table' or 'json', not {fmt!r}")
    settings = _settings(config)
    loaded, lo, hi, log_file = _load_range(settings, data, start, end, shown=fmt == "table")
    bars = loaded.bars
    strategy = build_strategy(settings.strategy)
    result = scan(strategy, bars, lo, hi)
    if fmt == "json":
        if result.signals:
            print(signals_jsonl(result.signals))
        return
    console = make_console()
    print_load_summary(console, loaded, log_file)
    console.print(f"{settings.symbol}: {strategy.describe()}", markup=False)
    console.print(signal_table(result.signals, f"{len(result.signals)} signal(s)"))
    last = hi - 1
    console.print(status_table(strategy.status(), float(bars.close[last]), int(bars.ts[last])))


def _load_range(
    settings: Settings, data: Path | None, start: str | None, end: str | None, shown: bool
) -> tuple[LoadResult, int, int, Path | None]:
    """Load the bar file and the index range [lo, hi) asked for; also the log file that
    holds every rejected row and loader note, when there are some (None: no log file).
    `shown`: the caller prints a summary of them, so the console gets no copy per row."""
    from bot.data.load import load_csv, symbol_warning

    setup_logging(None)
    path = resolve_data_path(data or settings.data.path)
    loaded = load_csv(path, settings.data.regular_hours_only, settings.symbol)
    mismatch = symbol_warning(path, settings.symbol)
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
    data: Annotated[Path | None, typer.Option(help="CSV of bars (default: data.path).")] = None,
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

    settings = _settings(config)
    folder = out or default_run_dir()
    check_dir(folder, "output folder", "--out")  # before the run, not after it
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


def default_run_dir() -> Path:
    from datetime import datetime

    return Path("runs") / datetime.now().strftime("backtest-%Y%m%d-%H%M%S")


@app.command()
@user_errors
def paper(
    config: ConfigOpt = None,
    broker: Annotated[
        str, typer.Option(help="emulator (offline, default) or alpaca (your paper account).")
    ] = "emulator",
    emulator_url: Annotated[
        str | None, typer.Option(help="Use a running `bot emulator` instead of an in-process one.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Replay this CSV (default: paper.replay_data).")
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
    settings = _settings(config)
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
            broker, emulator_url, data, start, end, speed, state_dir, fresh, adopt, live
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

    settings = _settings(config)
    if port is not None:
        settings.emulator.port = port
    # Without keys in the environment it accepts emulator-key / emulator-secret.
    key = settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None
    secret = settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None
    serve(settings, key, secret)


@app.command()
@user_errors
def logs(
    config: ConfigOpt = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Only these event kinds (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events after this: 30m, 2h, 1d or an ISO time.")
    ] = None,
    run: Annotated[
        str | None, typer.Option(help="A run id, 'latest' (default) or 'all'.")
    ] = "latest",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON lines.")] = False,
) -> None:
    """Filter logs/events.jsonl: signals, risk decisions, orders, fills, guards, errors."""
    from bot.events import logview
    from bot.report.views import make_console

    settings = _settings(config)
    path = Path(settings.paper.log_dir) / "events.jsonl"
    if follow:
        lifecycle.set_hint(f"stopped following {path}; nothing else to do")
    try:
        logview.check_kinds(event)
        latest = logview.last_run_id(path) if run == "latest" else run
        run_id = None if run == "all" else latest
        after = logview.parse_since(since) if since else None
        source = logview.follow(path) if follow else logview.read_events(path)
        chosen = logview.select(source, event, after, run_id)
        if follow or as_json:
            for ev in chosen:
                print(json.dumps(ev) if as_json else _line(ev), flush=True)
            return
        make_console().print(logview.table(list(chosen)))
    except logview.LogError as exc:
        print(f"logs error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def _line(ev: dict[str, Any]) -> str:
    details = " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("time", "run_id", "event"))
    return f"{str(ev.get('time', ''))[:19]}  {ev.get('event', ''):<12} {details}"


StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="State directory of the paper bot (default: paper.state_dir)."
    ),
]


def _paper_settings(config: Path | None, state_dir: Path | None) -> Settings:
    """The settings with `--state-dir` applied as `bot paper` applies it (the halt file
    goes with the state directory)."""
    from bot.live.paper import PaperOptions, apply_options

    return apply_options(_settings(config), PaperOptions(state_dir=state_dir))


@app.command()
@user_errors
def status(config: ConfigOpt = None, state_dir: StateDirOpt = None) -> None:
    """Position, open orders, P&L, the strategy's status, last signals, halted or not."""
    from bot.report.status import read_status
    from bot.report.views import make_console, status_view
    from bot.store.state import StateError

    settings = _paper_settings(config, state_dir)
    check_dir(Path(settings.paper.state_dir), "state directory", "--state-dir", write=False)
    try:
        st = read_status(settings)
    except StateError as exc:
        print(f"status: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    status_view(make_console(), st, settings.symbol)


@app.command()
@user_errors
def halt(
    config: ConfigOpt = None,
    reason: Annotated[str, typer.Option(help="Why (logged).")] = "halted by bot halt",
    flatten: Annotated[
        bool, typer.Option("--flatten", help="Also close the position at market.")
    ] = False,
    state_dir: StateDirOpt = None,
) -> None:
    """Kill switch: stop new entries now (saved; survives restarts until `bot resume`)."""
    from bot.store.halts import Halt, save_halt

    settings = _paper_settings(config, state_dir)
    store = _open_state(settings, "halt")
    save_halt(store, Halt(reason, flatten))
    store.close()
    print(f"HALTED: {reason}" + (" (the position will be closed)" if flatten else ""))


@app.command()
@user_errors
def resume(config: ConfigOpt = None, state_dir: StateDirOpt = None) -> None:
    """Clear a halt set by `bot halt` (a halt file must be removed by hand)."""
    from bot.store.halts import save_halt

    settings = _paper_settings(config, state_dir)
    store = _open_state(settings, "resume")
    save_halt(store, None)
    store.close()
    halt_file = Path(settings.paper.halt_file)
    print(
        "trading resumed"
        + (f"; note: halt file {halt_file} still exists" if halt_file.exists() else "")
    )


def _open_state(settings: Settings, command: str) -> Any:
    """The state database of `bot halt`/`bot resume`; a damaged one is named, exit 2."""
    from bot.store.state import StateError, StateStore

    check_dir(Path(settings.paper.state_dir), "state directory", "--state-dir")
    try:
        return StateStore(Path(settings.paper.state_dir) / "state.sqlite", settings.symbol)
    except StateError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command("config")
@user_errors
def show_config(config: ConfigOpt = None) -> None:
    """Print the merged settings (file + environment), secrets redacted."""
    settings = _settings(config)
    print(f"# from {resolve_config_path(config)} with BOT_* environment overrides")
    print(json.dumps(settings.redacted(), indent=2))


@app.command()
@user_errors
def sweep(
    sweep_file: Annotated[
        Path, typer.Argument(help="Sweep file (TOML), e.g. examples/sweep.toml.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/sweep-<time>).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: every core).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run on a Dask cluster: tcp://HOST:PORT of its scheduler.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the sweep in --out, skipping finished sets.")
    ] = False,
    write_config: Annotated[
        Path | None, typer.Option(help="Write a complete config with the chosen thresholds.")
    ] = None,
    heatmap: Annotated[
        str | None, typer.Option(help="Two swept parameters for the heatmap: x,y.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write the config even if the chosen set lost money or collapsed."
        ),
    ] = False,
) -> None:
    """Sweep thresholds with walk-forward validation: IS and OOS figures, report, config."""
    from bot.report.views import make_console
    from bot.sweep import Options, SweepInterrupted, run_sweep

    console = make_console()
    check_dir(out or Path("runs"), "output folder", "--out")  # before any combination runs
    opts = Options(out, workers, scheduler, resume, write_config, heatmap, force=force)
    try:
        outcome = run_sweep(sweep_file, opts, console)
    except (SweepInterrupted, KeyboardInterrupt) as exc:
        lifecycle.told()
        print(str(exc) or "interrupted", file=sys.stderr)
        code = exc.exit_code if isinstance(exc, SweepInterrupted | lifecycle.Interrupted) else 130
        raise typer.Exit(code) from None
    from bot.sweep.output import print_summary

    prep = outcome.prep
    print_summary(
        console, prep.series, prep.grid, outcome.choices, outcome.summaries, outcome.rules
    )
    for line in outcome.lines:
        console.print(line)
    for warning in outcome.warnings:
        console.print(f"[red]warning:[/] {warning}")
    console.print(f"Wrote {len(outcome.files)} files to {outcome.out_dir}/:")
    for name, path in outcome.files.items():
        console.print(f"  {name:<8} {path}")
    if outcome.refusal is not None:
        print(outcome.refusal, file=sys.stderr)
        raise typer.Exit(1)


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; an interrupt is raised to bot.cli.entry."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except click.exceptions.Abort as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, lifecycle.Interrupted):
            raise cause from None
        raise lifecycle.Interrupted() from None  # a plain KeyboardInterrupt (Ctrl-C)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    # typer turns an interrupt into a bare exit 130: report it as it was (SIGTERM: 143)
    pending = lifecycle.untold()
    if pending is not None:
        raise pending
    return rv if isinstance(rv, int) else 0


def main() -> None:
    from bot.cli.entry import main as entry_main

    entry_main()
