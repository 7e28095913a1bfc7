"""A local HTTP receiver for Apprise's `json://` posts (tests only, 127.0.0.1).

It keeps every JSON body it is posted, can be stopped (connections refused) and started
again on the same port, can answer with an error status, and can wait a seeded random
time before and after it keeps a message (the kill -9 test's window). The ids of the
alerts a message carries are its `alert id: ...` lines (bot/alerts/messages.py).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALERT_ID = re.compile(r"^\s*alert id: (\S+)\s*$", re.M)
NOTICE_ID = re.compile(r"^\s*id: (\S+)\s*$", re.M)


def alert_ids(post: dict[str, Any]) -> list[str]:
    """The ids of the alerts a posted message carries (one, or a digest's)."""
    return ALERT_ID.findall(str(post.get("message", "")))


def is_notice(post: dict[str, Any]) -> bool:
    return "may not have arrived" in str(post.get("title", ""))


class Receiver:
    def __init__(self, seed: int | None = None, max_delay_s: float = 0.0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._max_delay = max_delay_s
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._pause()
                if receiver.status == 200:
                    with receiver._lock:
                        receiver.posts.append(json.loads(body))
                        receiver.paths.append(self.path)
                receiver._pause()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket: connections are refused until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _pause(self) -> None:
        if self._max_delay:
            with self._lock:
                delay = self._rng.uniform(0, self._max_delay)
            time.sleep(delay)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts)

    def ids(self) -> list[str]:
        """Every alert id carried, in order, repeats kept (notices left out)."""
        return [i for p in self.received() if not is_notice(p) for i in alert_ids(p)]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received()) >= count:
                return True
            time.sleep(0.01)
        return False
