"""The `bot` command assembled: imports the command modules, then runs the app.

Importing bot.cli.run, bot.cli.operate, bot.cli.tools, bot.cli.data and bot.cli.scan runs
their @app.command decorators, and typer lists the commands in `bot --help` in the order
they were registered: the order of these imports. `app` here is the complete CLI, the
one to use (tests, CliRunner); bot.cli.common's has no commands until these modules are
imported.
"""

from __future__ import annotations

import click
import typer

from bot import lifecycle
from bot.cli.common import app

# One import per block: isort would sort them and so change the order of the help.
# isort: split
from bot.cli import run

# isort: split
from bot.cli import operate

# isort: split
from bot.cli import tools

# isort: split
from bot.cli import data

# isort: split
from bot.cli import scan

# isort: split
from bot.cli import watch

# isort: split
from bot.cli import levels

# isort: split
from bot.cli import study

# isort: split
from bot.cli import dashboard

# isort: split
from bot.cli import service

COMMAND_MODULES = (
    run,
    operate,
    tools,
    data,
    scan,
    watch,
    levels,
    study,
    dashboard,
    service,
)  # the order of the commands in `bot --help`

__all__ = ["app", "main", "run_app"]


try:  # typer 0.29+ parses with its own copy of click, whose errors are not click's
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # older typer: click's own
    _TyperClickException = click.ClickException  # type: ignore[misc, assignment]
_ABORTS = (click.exceptions.Abort, typer.Abort)
_USAGE = (click.ClickException, _TyperClickException)


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; an interrupt is raised to bot.cli.entry."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except _ABORTS as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, lifecycle.Interrupted):
            raise cause from None
        raise lifecycle.Interrupted() from None  # a plain KeyboardInterrupt (Ctrl-C)
    except _USAGE as exc:  # a bad option or argument: its usage line, exit 2
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
