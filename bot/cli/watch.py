"""`bot watch` (the watchlist live, alerts only: bot/watch/live.py) and `bot replay` (a
past day minute by minute through the same watcher: bot/watch/replay.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from bot.cli.common import ConfigOpt, SymbolOpt, app, user_errors
from bot.config_load import load_settings
from bot.models import DataError

# Both commands confirm on each symbol's timeframe unless told another.
TimeframeOpt = Annotated[
    str | None,
    typer.Option(
        "--timeframe",
        "-t",
        help="Bars the strategy confirms on: 1m..1h, 1d "
        "(default: each symbol's alerts.tiers timeframe).",
    ),
]


@app.command()
@user_errors
def replay(
    day: Annotated[
        str, typer.Argument(help="The day, YYYY-MM-DD (default: the bundled 2026-01-29 morning).")
    ] = "2026-01-29",
    timeframe: TimeframeOpt = None,
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


@app.command()
@user_errors
def watch(
    symbol: SymbolOpt = None,
    timeframe: TimeframeOpt = None,
    sessions: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many sessions (default: never).")
    ] = None,
    state_dir: Annotated[
        str | None,
        typer.Option(
            "--state-dir", help="Lock, heartbeat and outbox folder (default: watch.state_dir)."
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Watch the watchlist live on Alpaca's minute bars and send the level alerts (to the
    channels in BOT_ALERT_URLS_*, or printed). Alerts only: nothing is traded."""
    from bot.report.views import make_console
    from bot.watch.start import WatchOptions, run_watch

    console = make_console()

    def printer(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    opts = WatchOptions(symbol, timeframe, sessions, state_dir)
    code = run_watch(load_settings(config), opts, printer)
    if code:
        raise typer.Exit(code)
