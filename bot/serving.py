"""An ASGI app served by uvicorn on a thread, on a socket bound before uvicorn starts: the
emulator's (bot/emulator/server.py) and the dashboard's (bot/dashboard/server.py).

Binding first means `port=0` gets a free port with no race, and a port in use is one
clear RunnerError (`bind`), never a banner followed by a traceback. `ThreadedServer.start`
returns once connections are accepted; `stop` asks uvicorn to exit and waits for it.
"""

from __future__ import annotations

import errno
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from bot.store.lock import RunnerError


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound socket with TCP_NODELAY, which accepted connections inherit.

    uvicorn writes a response's head and body separately; with Nagle's algorithm on, a
    keep-alive client (requests.Session, as alpaca-py uses) waits ~40 ms for the delayed
    ACK on every call. NODELAY makes each call take about a millisecond.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def bind(host: str, port: int, hint: str = "") -> socket.socket:
    """`listening_socket`, or RunnerError naming the port, why, and `--port` (and `hint`)."""
    try:
        return listening_socket(host, port)
    except OSError as exc:
        why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror}"
        raise RunnerError(
            f"port {port} on {host} {why}{hint}; choose another with --port"
        ) from None


class ThreadedServer:
    """uvicorn serving `app` on a thread; `graceful_s`: requests still running this long
    after `stop()` are cancelled (open event streams included)."""

    def __init__(self, app: ASGIApp, name: str, graceful_s: int) -> None:
        self.app, self.name, self.graceful_s = app, name, graceful_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, sock: socket.socket, timeout: float = 10.0) -> None:
        """Serve on `sock`; returns once connections are accepted, else RuntimeError."""
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off",
            timeout_graceful_shutdown=self.graceful_s,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                host, port = sock.getsockname()[:2]
                raise RuntimeError(f"the {self.name} did not start on http://{host}:{port}")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = None


__all__ = ["ThreadedServer", "bind", "listening_socket"]
