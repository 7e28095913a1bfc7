"""`bot replay`: a past day minute by minute through the level watcher, alerts only
(bot/watch/replay.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from bot.cli.common import ConfigOpt, SymbolOpt, app, user_errors
from bot.config_load import load_settings
from bot.models import DataError


@app.command()
@user_errors
def replay(
    day: Annotated[
        str, typer.Argument(help="The day, YYYY-MM-DD (default: the bundled 2026-01-29 morning).")
    ] = "2026-01-29",
    timeframe: Annotated[
        str, typer.Option("--timeframe", "-t", help="Bars the strategy confirms on: 1m..1h, 1d.")
    ] = "1d",
    speed: Annotated[float, typer.Option(help="Minutes a second (0: flat out).")] = 0.0,
    symbol: SymbolOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Replay a past day minute by minute: the alerts the watcher would have sent (to the
    configured channels, or printed). Nothing is traded."""
    from bot.report.views import make_console
    from bot.watch.replay import ReplayOptions, replay_day

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise DataError(f"{day!r} is not a date (use YYYY-MM-DD)") from None
    console = make_console()

    def printer(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    opts = ReplayOptions(when, timeframe, speed, symbol)
    made = replay_day(load_settings(config), opts, printer)
    console.print(f"{made} alert(s) for {day}" + ("" if made else ": nothing came near a level"))
