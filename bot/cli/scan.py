"""`bot scan UNIVERSE`: every symbol of a file against its 52-week peak, its levels and its
strategy's signals of the last bars; on every local core or a Dask cluster.

The work is in bot.scan; this parses the options and prints the top rows and where the
files are. Heavy modules are imported inside the command (see bot/cli/common.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot import lifecycle
from bot.cli.common import ConfigOpt, SchedulerOpt, WorkersOpt, app, user_errors
from bot.config_load import load_settings
from bot.store.lock import check_dir

NAMED = 10  # symbols without data named in the closing lines; the rest are counted


@app.command()
@user_errors
def scan(
    universe: Annotated[
        Path, typer.Argument(help="File of symbols: one or more a line, `#` comments.")
    ],
    bars: Annotated[
        int, typer.Option("--bars", "-n", help="Report the signals of the last N bars.")
    ] = 5,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/scan-<time>).")
    ] = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    top: Annotated[int, typer.Option(help="Rows shown here (all are in the files).")] = 20,
    config: ConfigOpt = None,
) -> None:
    """Scan a universe: distance to the 52-week peak and to the levels, recent signals;
    writes scan.csv and scan.html sorted by distance to the peak."""
    from bot.report.views import make_console
    from bot.scan.report import top_table
    from bot.scan.run import ScanInterrupted, ScanOptions, run_scan

    console = make_console()
    check_dir(out or Path("runs"), "output folder", "--out")  # before any symbol is read
    settings = load_settings(config)
    opts = ScanOptions(bars=bars, out=out, workers=workers, scheduler=scheduler)
    try:
        outcome = run_scan(universe, settings, opts, console)
    except (ScanInterrupted, KeyboardInterrupt) as exc:
        lifecycle.told()
        print(str(exc) or "interrupted", file=sys.stderr)
        code = exc.exit_code if isinstance(exc, ScanInterrupted | lifecycle.Interrupted) else 130
        raise typer.Exit(code) from None
    console.print(top_table(outcome.rows, max(top, 0), len(outcome.rows)))
    console.print(outcome.where, markup=False)
    if outcome.universe.repeated:
        twice = ", ".join(outcome.universe.repeated)
        console.print(f"listed more than once (scanned once): {twice}", markup=False)
    missing = outcome.without_data
    if missing:
        names = ", ".join(r.symbol for r in missing[:NAMED])
        more = f" and {len(missing) - NAMED} more" if len(missing) > NAMED else ""
        console.print(
            f"{len(missing)} symbol(s) without data: {names}{more} (the reasons are in "
            "scan.csv; `bot data fetch SYMBOL` fills the store)",
            markup=False,
        )
    console.print(f"Wrote {len(outcome.files)} files to {outcome.out_dir}/:", markup=False)
    for name, path in outcome.files.items():
        console.print(f"  {name:<5} {path}", markup=False)
