"""One paper runner per state directory: a file lock taken before anything heavy.

`bot paper` takes it right after reading the settings, before it imports pandas, the
SDK or the engine, so a second runner on the same state is refused within moments and
sends nothing to the broker. The lock is re-entrant within a process (the wiring takes
it, then the runner). The heartbeat file beside it says whether a runner is alive.
This module imports only the standard library and filelock.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from filelock import FileLock, Timeout

_LOCKS: dict[str, FileLock] = {}


class RunnerError(Exception):
    """The runner cannot start or go on; the message says why and what to do."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def private_dir(path: Path) -> Path:
    """Create a folder readable by its owner only (state and logs hold account data)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):  # not ours (a shared mount): leave it
        path.chmod(0o700)
    return path


def check_dir(path: Path, what: str, option: str, write: bool = True) -> None:
    """Refuse, before any work starts, a folder that is a file, lies under a file, or
    (with `write`) cannot be created or written: RunnerError (exit 2), one line naming
    the path, why, and the option that chooses another. Creates nothing."""
    near = path
    try:
        while not near.exists() and near != near.parent:
            near = near.parent
        is_dir = near.is_dir()
    except OSError as exc:  # a parent we may not look into
        raise RunnerError(f"{what} {path} cannot be used: {exc.strerror or exc}") from None
    if not is_dir:
        why = "is a file, not a folder" if near == path else f"cannot be created: {near} is a file"
        raise RunnerError(f"{what} {path} {why}; choose another with {option}")
    if write and not os.access(near, os.W_OK | os.X_OK):
        why = "is not writable" if near == path else f"cannot be created: {near} is not writable"
        raise RunnerError(f"{what} {path} {why}; choose another with {option}")


def take_lock(state_dir: Path) -> FileLock:
    """The state directory's lock, or RunnerError (exit 3) if another process holds it."""
    check_dir(state_dir, "state directory", "--state-dir")
    try:
        private_dir(state_dir)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise RunnerError(f"cannot use {state_dir} as the state directory: {why}") from None
    path = str((state_dir / "bot.lock").resolve())
    lock = _LOCKS.setdefault(path, FileLock(path, mode=0o600))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunnerError(
            f"another bot is already running on state directory {state_dir} "
            f"(lock {state_dir / 'bot.lock'}); stop it first",
            code=3,
        ) from None
    except OSError as exc:
        raise RunnerError(f"cannot lock {state_dir}: {exc.strerror}") from None
    return lock


def write_heartbeat(state_dir: Path, state: str) -> None:
    """`<unix time> <pid> <what the runner is doing>`, replaced atomically."""
    tmp = state_dir / "heartbeat.new"
    tmp.write_text(f"{time.time():.3f} {os.getpid()} {state}\n", encoding="utf-8")
    os.replace(tmp, state_dir / "heartbeat")


def read_heartbeat(state_dir: Path, now: float | None = None) -> tuple[float, int, str] | None:
    """(age in seconds at `now`, default the clock's, pid, state) of the last heartbeat,
    or None if there is none."""
    try:
        text = (state_dir / "heartbeat").read_text(encoding="utf-8").strip()
        stamp, pid, state = [*text.split(" ", 2), "", ""][:3]
        return (time.time() if now is None else now) - float(stamp), int(pid or 0), state
    except (OSError, ValueError):
        return None


def heartbeat_limit(heartbeat_s: float) -> float:
    """The oldest a live runner's heartbeat gets: a bar or a wait step writes it at least
    every `heartbeat_s`; three missed beats and a little slack mean it is not running."""
    return 3 * heartbeat_s + 5


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


__all__ = [
    "RunnerError",
    "check_dir",
    "heartbeat_limit",
    "pid_alive",
    "private_dir",
    "read_heartbeat",
    "take_lock",
    "write_heartbeat",
]
