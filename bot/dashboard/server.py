"""Serving the dashboard: uvicorn in a thread on 127.0.0.1 (`DashboardServer`).

The socket is bound before uvicorn starts (bot/emulator/server.py `listening_socket`), so
`port=0` gets a free port with no race and a port in use is one clear RunnerError, never
a banner then a traceback. `start()` returns once connections are accepted; `stop()`
ends open event streams within `timeout_graceful_shutdown`. Binds loopback only: the page
shows an account, and its halt button must not be reachable from the network.
"""

from __future__ import annotations

import errno
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from bot.emulator.server import listening_socket
from bot.store.lock import RunnerError

HOST = "127.0.0.1"


class DashboardServer:
    def __init__(self, app: FastAPI, port: int = 0) -> None:
        self.app, self.port = app, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> DashboardServer:
        try:
            sock = listening_socket(HOST, self.port)
        except OSError as exc:
            why = (
                "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror}"
            )
            raise RunnerError(
                f"port {self.port} on {HOST} {why}; choose another with --port"
            ) from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="dashboard", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RunnerError(f"the dashboard did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
