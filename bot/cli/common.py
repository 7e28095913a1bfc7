"""What every `bot` command shares: the typer `app`, the error wrapper, `--config`.

The command modules (run, operate, tools) register on `app` with @app.command; bot.cli.main
imports them in the order `bot --help` lists them. Commands only, no trading logic. Every
user-facing error (bad config, bad data file) ends with one clear message on stderr and
exit code 2, never a traceback (`user_errors`).

Only light modules are imported at the top here and in the command modules: heavy ones
(pandas, the SDK, the engine) are imported inside the commands, so that `bot paper` takes
its state lock first and a second runner is refused within moments.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.config_load import ConfigError, load_settings
from bot.models import DataError
from bot.settings import Settings
from bot.store.lock import RunnerError
from bot.watchlist import WatchlistError

app = typer.Typer(
    help="Technical-analysis signal bot: signals, backtests and Alpaca paper trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (default: $BOT_CONFIG or config/default.toml)."
    ),
]

SymbolOpt = Annotated[
    str | None,
    typer.Option("--symbol", "-s", help="Which watched symbol (default: the config's `symbol`)."),
]

DataOpt = Annotated[
    Path | None,
    typer.Option(help="CSV of bars; else the store's, else the file (default: data.path)."),
]
WorkersOpt = Annotated[
    int | None, typer.Option(help="Local worker processes (default: every core).")
]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="Run on a Dask cluster: tcp://HOST:PORT of its scheduler.")
]


def user_errors(func: F) -> F:
    """Turn expected user errors into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, DataError, WatchlistError) as exc:
            kind = "data" if isinstance(exc, DataError) else "config"
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


def read_settings(config: Path | None, symbol: str | None = None) -> Settings:
    """The settings of `--config` (or its default) with the BOT_* environment applied, as
    `symbol` (default: the config's `symbol`) sees them: its watchlist levels and
    overrides in [strategy] and [risk]."""
    settings = load_settings(config)
    return settings.for_symbol(symbol or settings.symbol)
