"""The dashboard's HTTP face: `make_app(settings, state_dir, token)`.

- `GET /`: the page; `GET /static/{index.html,app.js,style.css}`: its files, bundled in
  this package; `GET /static/plotly.min.js`: plotly.js from the installed plotly package,
  so the page works offline and its plotly always matches the Python one.
- `GET /api/summary`: bot/dashboard/data.py `summary` (state, account, watchlist with
  levels and distances, alerts with their delivery status, heartbeat, running or not).
- `GET /api/bars/{symbol}?limit=N`: a symbol's chart data (bars, levels, signals, fills).
- `GET /api/events?event=KIND&limit=N&run=latest|all|ID`: the journal, as `bot logs`.
- `GET /api/stream`: server-sent events (bot/dashboard/stream.py).
- `GET /healthz`: 200 when the run is healthy, else 503 with the reasons
  (bot/service/health.py, as `bot service health`).
- `POST /api/halt`, `POST /api/resume`: what `bot halt` / `bot resume` do (the same
  bot.store.halts functions on the same state), only with the header
  `X-Dashboard-Token` equal to the token printed at start-up: 403 otherwise. The page is
  otherwise read-only; the token keeps another local user's page or a web page that
  posts to 127.0.0.1 from flipping the kill switch.
Endpoints that read SQLite are plain `def` (run in the thread pool, not on the loop).
"""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from bot.dashboard import data, stream
from bot.events.logview import LogError
from bot.settings import Settings
from bot.store.halts import Halt, save_halt
from bot.store.lock import RunnerError, check_dir
from bot.store.state import StateError, StateStore

TOKEN_HEADER = "X-Dashboard-Token"
_FILES = {  # the page's files and their types: nothing else under /static is served
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


class HaltBody(BaseModel):
    reason: str = Field("halted from the dashboard", min_length=1, max_length=300)
    flatten: bool = False


def static_text(name: str) -> str:
    return (resources.files("bot.dashboard") / "static" / name).read_text(encoding="utf-8")


@cache
def plotly_js() -> str:
    """The minified plotly.js bundled in the plotly package (about 4.8 MB), read once."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _with_state_dir(settings: Settings, state_dir: Path) -> Settings:
    """The settings as `bot status --state-dir` sees them (the halt file goes with it)."""
    from bot.live.paper import PaperOptions, apply_options

    return apply_options(settings, PaperOptions(state_dir=state_dir))


def make_app(settings: Settings, state_dir: Path, token: str) -> FastAPI:
    settings = _with_state_dir(settings, state_dir)
    app = FastAPI(title="levelbot dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    def refused(given: str | None) -> JSONResponse | None:
        if given is None or not secrets.compare_digest(given.encode(), token.encode()):
            why = f"missing {TOKEN_HEADER}" if given is None else f"wrong {TOKEN_HEADER}"
            return JSONResponse({"error": f"{why}: use the token `bot dashboard` printed"}, 403)
        return None

    def switch(halt: Halt | None) -> JSONResponse:
        """`bot halt` / `bot resume` on this state (bot/cli/operate.py does the same)."""
        try:
            check_dir(state_dir, "state directory", "--state-dir")
            store = StateStore(data.state_file(settings), settings.symbol)
        except (RunnerError, StateError) as exc:
            return JSONResponse({"error": str(exc)}, 409)
        try:
            save_halt(store, halt)
        finally:
            store.close()
        halt_file = Path(settings.paper.halt_file)
        note = f"halt file {halt_file} still exists" if halt is None and halt_file.exists() else ""
        return JSONResponse({"halted": halt.reason if halt else None, "note": note})

    @app.get("/")
    def page() -> Response:
        return Response(static_text("index.html"), media_type=_FILES["index.html"])

    @app.get("/static/plotly.min.js")
    def plotly() -> Response:
        return Response(
            plotly_js(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "max-age=86400"},
        )

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in _FILES:
            return JSONResponse({"error": f"no file {name}"}, 404)
        return Response(static_text(name), media_type=_FILES[name])

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        # The service's health (bot/service/health.py): 200 only when every rule holds.
        from bot.service.health import healthz as check

        status, body = check(state_dir, settings)
        return JSONResponse(body, status)

    @app.get("/api/summary")
    def summary() -> JSONResponse:
        return JSONResponse(data.summary(settings))

    @app.get("/api/bars/{symbol}")
    def bars(
        symbol: str, limit: Annotated[int, Query(ge=1, le=5000)] = data.CHART_BARS
    ) -> Response:
        if symbol.upper() not in settings.symbols:
            return JSONResponse({"error": f"{symbol} is not on the watchlist"}, 404)
        return JSONResponse(data.bars_view(settings, symbol, limit))

    @app.get("/api/events")
    def events(
        event: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 200,
        run: str = "latest",
    ) -> JSONResponse:
        try:
            found = data.events_view(data.journal_file(settings), event, limit, run)
        except LogError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(found)

    @app.get("/api/stream")
    async def live(request: Request) -> StreamingResponse:
        return StreamingResponse(
            stream.events(settings, request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/halt")
    def halt(
        body: HaltBody | None = None,
        x_dashboard_token: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        body = body or HaltBody()
        return refused(x_dashboard_token) or switch(Halt(body.reason, body.flatten))

    @app.post("/api/resume")
    def resume(x_dashboard_token: Annotated[str | None, Header()] = None) -> JSONResponse:
        return refused(x_dashboard_token) or switch(None)

    return app
