"""Serving the dashboard: uvicorn in a thread on 127.0.0.1 (`DashboardServer`, over
bot/serving.py as the emulator's server is).

A port in use is one clear RunnerError. `start()` returns once connections are accepted;
`stop()` ends open event streams within a second. Binds loopback only: the page shows an
account, and its halt button must not be reachable from the network.
"""

from __future__ import annotations

from types import TracebackType

from fastapi import FastAPI

from bot.serving import ThreadedServer, bind
from bot.store.lock import RunnerError

HOST = "127.0.0.1"


class DashboardServer:
    def __init__(self, app: FastAPI, port: int = 0) -> None:
        self.app, self.port = app, port
        self._server = ThreadedServer(app, "dashboard", graceful_s=1)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> DashboardServer:
        sock = bind(HOST, self.port)
        self.port = sock.getsockname()[1]
        try:
            self._server.start(sock, timeout)
        except RuntimeError as exc:
            raise RunnerError(str(exc)) from None
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.stop(timeout)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
