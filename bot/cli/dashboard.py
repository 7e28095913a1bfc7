"""`bot dashboard`: a paper run's state and journal as a live page on 127.0.0.1
(bot/dashboard/). Read-only but for halt and resume, which need the token printed here."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from bot import lifecycle
from bot.cli.common import ConfigOpt, app, user_errors
from bot.config_load import load_settings
from bot.store.lock import check_dir


@app.command()
@user_errors
def dashboard(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")
    ] = 8766,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir", help="State directory of the paper bot (default: paper.state_dir)."
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve a live page of the paper bot: watchlist, levels, charts, positions, equity,
    alerts, events; halt and resume with the printed token. Ctrl-C stops it."""
    from bot.dashboard.app import TOKEN_HEADER, make_app
    from bot.dashboard.server import DashboardServer

    settings = load_settings(config)
    here = state_dir if state_dir is not None else Path(settings.paper.state_dir)
    check_dir(here, "state directory", "--state-dir", write=False)
    # A new token each start: it is the only thing between a page and the kill switch.
    token = secrets.token_urlsafe(24)
    server = DashboardServer(make_app(settings, here, token), port).start()
    lifecycle.set_hint("the dashboard stopped; a paper bot it showed goes on")
    print(
        f"Dashboard of {here} on {server.url}/?token={token}\n"
        f"halt/resume token: {token} (header {TOKEN_HEADER}); Ctrl-C stops it.",
        flush=True,
    )
    try:
        while True:
            lifecycle.sleep(3600)  # raises Interrupted on Ctrl-C or SIGTERM (exit 130/143)
    finally:
        server.stop()
