"""The commands that watch and steer a paper bot: `bot logs`, `status`, `halt`, `resume`.

They read what `bot paper` leaves in its log and state folders (events.jsonl, the state
database) and set or clear its kill switch there, whether or not the bot is running.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot import lifecycle
from bot.cli.common import ConfigOpt, SymbolOpt, app, read_settings, user_errors
from bot.config_load import load_settings
from bot.settings import Settings
from bot.store.lock import check_dir


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

    settings = read_settings(config)
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
    """One event as one line (`--follow`): time, kind, then its other fields."""
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

    return apply_options(read_settings(config), PaperOptions(state_dir=state_dir))


@app.command()
@user_errors
def status(
    config: ConfigOpt = None, state_dir: StateDirOpt = None, symbol: SymbolOpt = None
) -> None:
    """Position, open orders, P&L, the strategy's status, last signals, halted or not
    (a watchlist of several: every symbol, and the account they share)."""
    from bot.live.paper import PaperOptions, apply_options
    from bot.report.status import read_status
    from bot.report.views import make_console, status_view, watchlist_status_view
    from bot.store.state import StateError

    watched = apply_options(load_settings(config), PaperOptions(state_dir=state_dir))
    check_dir(Path(watched.paper.state_dir), "state directory", "--state-dir", write=False)
    from bot.report.watchstatus import is_watch_state, read_watch_status, watch_status_view

    here = Path(watched.paper.state_dir)
    if is_watch_state(here):  # a level watcher's (bot watch), not a trading run's
        found_watch = read_watch_status(here, watched.paper.heartbeat_s)
        watch_status_view(make_console(), found_watch, here)
        return
    symbols = watched.symbols if symbol is None else [symbol.upper()]
    try:
        found = {sym: read_status(watched.for_symbol(sym)) for sym in symbols}
    except StateError as exc:
        print(f"status: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    if len(found) > 1:
        watchlist_status_view(make_console(), found)
    else:
        ((sym, st),) = found.items()
        status_view(make_console(), st, sym)


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
