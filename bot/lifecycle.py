"""Ctrl-C and SIGTERM: every command ends within moments, with exit 130 or 143.

`install()` is the first thing the `bot` command does (before the heavy imports), so a
signal during start-up is handled too. A signal sets the process-wide stop flag and
raises `Interrupted` in the main thread at once, wherever it is: in a sleep, in a
blocking HTTP read, in pure Python. That is safe because the paper runner is
crash-only: every state write is one transaction (rolled back if interrupted) and an
order whose answer never arrived is settled by its client order id on the next start,
exactly as after a `kill -9`. Code that must not be cut may hold `deferred()`, which
postpones the exception to the end of the block.

Waits use `sleep()`, which wakes as soon as a stop is asked for. `Interrupted` is a
`KeyboardInterrupt`, so handlers that already save work on Ctrl-C (sweeps) serve
SIGTERM as well. This module imports nothing from the project.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """The user asked the process to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(signal.Signals(self.signum), 130)


_stop = threading.Event()
_state: dict[str, object] = {"signum": None, "depth": 0, "pending": False, "told": False}
_hint: list[str] = []


def install() -> None:
    """Route SIGINT and SIGTERM to `Interrupted` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def _handler(signum: int, frame: FrameType | None) -> None:
    _stop.set()
    _state["signum"] = signum
    if int(_state["depth"]) > 0:  # type: ignore[call-overload]
        _state["pending"] = True
        return
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal until the block ends (then raise it)."""
    _state["depth"] = int(_state["depth"]) + 1  # type: ignore[call-overload]
    try:
        yield
    finally:
        _state["depth"] = int(_state["depth"]) - 1  # type: ignore[call-overload]
        if _state["depth"] == 0 and _state["pending"]:
            _state["pending"] = False
            raise Interrupted(int(_state["signum"] or signal.SIGINT))  # type: ignore[call-overload]


def stopping() -> bool:
    return _stop.is_set()


def check() -> None:
    """Raise `Interrupted` if a stop was asked for (for loops that poll)."""
    if _stop.is_set():
        raise Interrupted(int(_state["signum"] or signal.SIGINT))  # type: ignore[call-overload]


def sleep(seconds: float) -> None:
    """Sleep, but wake and raise `Interrupted` as soon as a stop is asked for."""
    if _stop.wait(max(seconds, 0.0)):
        check()


def request_stop(signum: int = signal.SIGTERM) -> None:
    """Ask for a stop from code (tests, or another thread): the next wait raises."""
    _state["signum"] = signum
    _stop.set()


def reset() -> None:
    """Forget an earlier stop (tests run many commands in one process)."""
    _stop.clear()
    _state.update(signum=None, depth=0, pending=False, told=False)
    _hint.clear()


def told() -> None:
    """The command has told the user about the interrupt itself (no second message)."""
    _state["told"] = True


def untold() -> Interrupted | None:
    """The interrupt to report, if a stop was asked for and nobody reported it yet."""
    if not _stop.is_set() or _state["told"]:
        return None
    return Interrupted(int(_state["signum"] or signal.SIGINT))  # type: ignore[call-overload]


def set_hint(text: str) -> None:
    """What the user should do to go on, printed if this run is interrupted."""
    _hint[:] = [text]


def hint() -> str:
    return _hint[0] if _hint else "nothing was left half-done; run the command again"


__all__ = [
    "Interrupted",
    "check",
    "deferred",
    "hint",
    "install",
    "request_stop",
    "reset",
    "set_hint",
    "sleep",
    "stopping",
    "told",
    "untold",
]
