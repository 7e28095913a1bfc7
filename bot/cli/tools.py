"""The commands around the configuration: `bot config` prints it, `bot sweep` tunes it.

`sweep` backtests a grid of thresholds with walk-forward validation and can write the
chosen set as a complete config file; the work is in bot.sweep, this only prints.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bot import lifecycle
from bot.cli.common import ConfigOpt, SchedulerOpt, WorkersOpt, app, user_errors
from bot.config_load import load_settings, resolve_config_path
from bot.store.lock import check_dir
from bot.watchlist import due_reviews


@app.command("config")
@user_errors
def show_config(config: ConfigOpt = None) -> None:
    """Print the merged settings (file + environment), secrets redacted, and what each
    watched symbol trades on (its levels and thresholds)."""
    settings = load_settings(config)
    print(f"# from {resolve_config_path(config)} with BOT_* environment overrides")
    for line in due_reviews(settings.watchlist, date.today()):
        print(f"# review due: {line}")
    data = settings.redacted()
    # What each symbol trades on: [strategy] and [risk] with its overrides and levels.
    data["symbols"] = {
        sym: {
            "levels": [lv.model_dump(mode="json") for lv in settings.levels_of(sym)],
            "strategy": (mine := settings.for_symbol(sym)).strategy.model_dump(mode="json"),
            "risk": mine.risk.model_dump(mode="json"),
        }
        for sym in settings.symbols
    }
    print(json.dumps(data, indent=2))


@app.command()
@user_errors
def sweep(
    sweep_file: Annotated[
        Path, typer.Argument(help="Sweep file (TOML), e.g. examples/sweep.toml.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/sweep-<time>).")
    ] = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
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
    engine: Annotated[
        bool,
        typer.Option(
            "--engine",
            help="Score every combination with the engine instead of the compiled kernel "
            "(slower; the same figures).",
        ),
    ] = False,
) -> None:
    """Sweep thresholds with walk-forward validation: IS and OOS figures, report, config."""
    from bot.report.views import make_console
    from bot.sweep import Options, SweepInterrupted, run_sweep

    console = make_console()
    check_dir(out or Path("runs"), "output folder", "--out")  # before any combination runs
    opts = Options(
        out, workers, scheduler, resume, write_config, heatmap, force=force, engine=engine
    )
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
