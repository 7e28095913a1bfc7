"""`bot study`: each level's track record over history, by tier of event.

Loads a symbol's bars as `bot signals` does (`--data`, else the store, else the bundled
file; `--from`/`--to`), runs bot.study on them and writes `study-<SYMBOL>.json` and
`study-<SYMBOL>.html` into the run folder. A watchlist of several, without `--symbol`:
each symbol in turn. The work is bot.study's; heavy modules are imported inside the
command (see bot.cli.common).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import ConfigOpt, DataOpt, SymbolOpt, app, user_errors
from bot.cli.run import _load_range
from bot.config_load import load_settings
from bot.store.lock import check_dir


@app.command()
@user_errors
def study(
    config: ConfigOpt = None,
    symbol: SymbolOpt = None,
    data: DataOpt = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="First date whose events count (earlier bars warm up)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last date used, outcomes included (inclusive).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/study-<time>).")
    ] = None,
) -> None:
    """How each level behaved: per tier (intraday cross, confirmed breakout or breakdown,
    failed break) the count, false-break rate, forward returns with bootstrap intervals
    and excursions, against every bar as a baseline; writes JSON and an HTML report."""
    from bot.report.views import make_console, print_load_summary
    from bot.study.export import write_json
    from bot.study.html import write_html
    from bot.study.report import study_table
    from bot.study.run import minute_bars, run_study

    watched = load_settings(config)
    folder = out or Path("runs") / datetime.now().strftime("study-%Y%m%d-%H%M%S")
    check_dir(folder, "output folder", "--out")  # before the work, not after it
    several = symbol is None and data is None and len(watched.symbols) > 1
    names = watched.symbols if several else [symbol or watched.symbol]
    console = make_console()
    written: list[Path] = []
    for name in names:
        settings = watched.for_symbol(name)
        loaded, lo, hi, log_file = _load_range(settings, data, start, end, shown=True)
        if several and name != names[0]:
            console.print()
        print_load_summary(console, loaded, log_file)
        minutes = minute_bars(settings, settings.symbol)
        result = run_study(settings, loaded.bars, lo, hi, minutes)
        console.print(f"{settings.symbol}: {result.rules}", markup=False)
        console.print(study_table(result))
        if not loaded.bars.timeframe.daily:
            how = "read off each bar's high and low"
        elif result.minute_days:
            how = f"timed on 1-minute bars on {result.minute_days} day(s), the others read off"
            how += " the daily high and low"
        else:
            how = f"read off the daily high and low (no 1-minute bars of {settings.symbol})"
        console.print(f"Intraday crosses: {how}.", markup=False)
        written.append(write_json(result, folder / f"study-{settings.symbol}.json"))
        written.append(write_html(result, folder / f"study-{settings.symbol}.html"))
    console.print(f"Wrote {len(written)} files to {folder}/:", markup=False)
    for path in written:
        console.print(f"  {path}", markup=False)
