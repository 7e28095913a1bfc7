"""`bot levels`: levels suggested from the bars, to paste into the watchlist.

`suggest SYMBOL` reads the symbol's daily bars (--data, else the store, else the bundled
file), suggests levels as of --asof from swing highs and lows (bot/levels), prints the
ranked table and a `[watchlist.SYMBOL]` TOML snippet, and writes levels.toml, levels.json
and levels.png. Heavy modules are imported inside the command (see bot/cli/common.py).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import ConfigOpt, DataOpt, app, user_errors
from bot.config_load import ConfigError, load_settings
from bot.models import DataError
from bot.store.lock import check_dir
from bot.watchlist import SYMBOL, WatchlistError

levels_app = typer.Typer(
    help="Levels from swing highs and lows, ranked, as a TOML snippet for the watchlist.",
    no_args_is_help=True,
)
app.add_typer(levels_app, name="levels")


def parse_asof(text: str | None) -> date | None:
    # DataError, not typer.BadParameter: typer 0.29's own click is not the `click` that
    # bot.cli.main.run_app catches, so its usage errors would end in a traceback.
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataError(f"--asof {text!r} is not a date (YYYY-MM-DD)") from None


@levels_app.command("suggest")
@user_errors
def suggest(
    symbol: Annotated[str, typer.Argument(help="Stock symbol, e.g. BABA.")],
    asof: Annotated[
        str | None,
        typer.Option(help="As of this day, YYYY-MM-DD: no later bar is read (default: the last)."),
    ] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
    round_: Annotated[
        bool | None,
        typer.Option(
            "--round/--no-round", help="Also round numbers (default: levels.round_numbers)."
        ),
    ] = None,
    top: Annotated[
        int | None, typer.Option(help="Levels listed, 1 to 200 (default: levels.top).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for levels.toml/.json/.png (default: runs/levels-<SYMBOL>-<asof>)."
        ),
    ] = None,
) -> None:
    """Suggest levels from swing highs and lows: a ranked table and a TOML snippet."""
    from bot.data.load import symbol_warning
    from bot.data.source import load_bars
    from bot.levels.report import levels_table, summary_line, toml_snippet, write_outputs
    from bot.levels.suggest import asof_index
    from bot.levels.suggest import suggest as suggest_levels
    from bot.report.views import make_console, print_load_summary

    day = parse_asof(asof)
    name = symbol.strip().upper()
    if not SYMBOL.match(name):
        raise WatchlistError(f"{symbol!r} is not a stock symbol")
    check_dir(out or Path("runs"), "output folder", "--out")  # before any work
    settings = load_settings(config)
    # Not settings.for_symbol: a symbol is suggested levels before it has a watchlist
    # table, and [levels] and [data] are the same for every symbol.
    updates: dict[str, object] = {}
    if round_ is not None:
        updates["round_numbers"] = round_
    if top is not None:
        if not 1 <= top <= 200:  # LevelsConfig.top's range; model_copy does not validate
            raise ConfigError(f"--top must be from 1 to 200, not {top}")
        updates["top"] = top
    cfg = settings.levels.model_copy(update=updates)
    source = load_bars(settings, name, data)
    mismatch = symbol_warning(source.path, name) if source.path is not None else None
    if mismatch and data is None:  # the bundled file of another stock: its levels are no use
        raise DataError(f"no bars of {name} in the store, and {mismatch}")
    bars = source.loaded.bars
    if not bars.timeframe.daily:
        raise DataError(
            f"{bars.source} holds {bars.timeframe} bars; levels are suggested from daily bars "
            '(data.timeframe = "1d", or a daily file with --data)'
        )
    console = make_console()
    print_load_summary(console, source.loaded, None)
    if mismatch:
        console.print(f"warning: {mismatch}", style="yellow", markup=False)
    t = asof_index(bars, day)
    result = suggest_levels(bars, t, cfg)
    label = result.day(t).isoformat()
    if day is not None and day.isoformat() != label:
        console.print(f"--asof {day.isoformat()}: the last bar on or before it is {label}")
    console.print(levels_table(result, name))
    console.print(summary_line(result, cfg.min_touches), markup=False)
    if not result.levels:
        print(f"no level was touched {cfg.min_touches} times: nothing to paste", file=sys.stderr)
    print()
    print(toml_snippet(result, name, cfg.round_step), end="")  # plain: no wrapping, pasteable
    print()
    folder = out or Path("runs") / f"levels-{name}-{label}"
    files = write_outputs(result, name, cfg, folder)
    console.print(f"Wrote {len(files)} files to {folder}/:", markup=False)
    for kind, path in files.items():
        console.print(f"  {kind:<5} {path}", markup=False)
