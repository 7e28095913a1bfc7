"""The `bot` command (typer): parses options, calls the engine, prints results.

Commands only, no trading logic. Every user-facing error (bad config, bad data file)
ends with one clear message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.data import DataError, load_csv
from bot.journal import setup_logging
from bot.scan import scan
from bot.settings import (
    ConfigError,
    Settings,
    load_settings,
    resolve_config_path,
    resolve_data_path,
)
from bot.views import (
    make_console,
    print_load_summary,
    progress_bar,
    signal_table,
    signals_jsonl,
    status_table,
    trades_table,
)
from strategies import build_strategy
from strategies.level_breakout import describe_rules

app = typer.Typer(
    help="Level breakout signal bot: signals, backtests and Alpaca paper trading.",
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

    return wrapper  # type: ignore[return-value]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


@app.command()
@user_errors
def signals(
    config: ConfigOpt = None,
    data: Annotated[Path | None, typer.Option(help="CSV of bars (default: [data].path).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First date shown (earlier bars still warm up).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date used (inclusive).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table or json (one object per signal).")
    ] = "table",
) -> None:
    """Run the strategy over a bar file and print the confirmed breakouts and breakdowns."""
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format must be 'table' or 'json', not {fmt!r}")
    settings = _settings(config)
    setup_logging(None)
    loaded = load_csv(
        resolve_data_path(data or settings.data.path), settings.data.regular_hours_only
    )
    for rej in loaded.rejected:
        LOG.warning("rejected bar: %s", rej)
    bars = loaded.bars
    lo = bars.index_of(start) if start else 0
    hi = bars.index_of(end_of_day(end), side="right") if end else len(bars)
    if hi <= lo:
        raise DataError(f"no bars in {bars.source} between {start or 'start'} and {end or 'end'}")
    strategy = build_strategy(settings.strategy)
    result = scan(strategy, bars, lo, hi)
    if fmt == "json":
        if result.signals:
            print(signals_jsonl(result.signals))
        return
    console = make_console()
    print_load_summary(console, loaded)
    console.print(f"{settings.symbol}: {describe_rules(settings.strategy)}")
    console.print(signal_table(result.signals, f"{len(result.signals)} signal(s)"))
    last = hi - 1
    console.print(status_table(strategy.status(), float(bars.close[last]), int(bars.ts[last])))


def end_of_day(day: str) -> str:
    """A date given alone means the whole day."""
    return f"{day}T23:59:59.999" if len(day) <= 10 else day


@app.command()
@user_errors
def backtest(
    config: ConfigOpt = None,
    data: Annotated[Path | None, typer.Option(help="CSV of bars (default: [data].path).")] = None,
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
    from bot.backtest import run_backtest
    from bot.report import compute_metrics, metrics_table, write_run

    settings = _settings(config)
    setup_logging(None)
    loaded = load_csv(
        resolve_data_path(data or settings.data.path), settings.data.regular_hours_only
    )
    for rej in loaded.rejected:
        LOG.warning("rejected bar: %s", rej)
    bars = loaded.bars
    lo = bars.index_of(start) if start else 0
    hi = bars.index_of(end_of_day(end), side="right") if end else len(bars)
    if hi <= lo:
        raise DataError(f"no bars in {bars.source} between {start or 'start'} and {end or 'end'}")
    console = make_console()
    print_load_summary(console, loaded)
    with progress_bar(console, hi - lo, "backtest") as advance:
        result = run_backtest(settings, bars, lo, hi, progress=advance)
    metrics = compute_metrics(result)
    console.print(trades_table(result.trades))
    console.print(metrics_table(metrics))
    folder = out or default_run_dir()
    files = write_run(result, folder, png=png)
    console.print(f"Wrote {len(files)} files to {folder}/:")
    for name, path in files.items():
        console.print(f"  {name:<15} {path}")


def default_run_dir() -> Path:
    from datetime import datetime

    return Path("runs") / datetime.now().strftime("backtest-%Y%m%d-%H%M%S")


@app.command("config")
@user_errors
def show_config(config: ConfigOpt = None) -> None:
    """Print the merged settings (file + environment), secrets redacted."""
    settings = _settings(config)
    print(f"# from {resolve_config_path(config)} with BOT_* environment overrides")
    print(json.dumps(settings.redacted(), indent=2))


def main() -> None:
    app()
