"""Logging set-up and the JSONL event journal.

Two audiences: people read the console and `logs/bot.log` (rotating); machines read
`logs/events.jsonl`, one JSON object per event (bar, signal, risk decision, order,
fill, guard, error...: the types of bot/events.py), each with the run id and time.
Secrets are removed by a logging filter on every handler (not by each call site), so no
code path can leak them into a log line. This module imports nothing from the engine.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.events import KINDS, Event

LOG = logging.getLogger("bot")

# Every kind of event written to events.jsonl, from the event types (bot/events.py):
# `bot logs --event` accepts these and no other.
EVENTS: tuple[str, ...] = KINDS
_SECRET_ENV = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")


_REGISTERED: list[str] = []  # secrets read from elsewhere (.env) by the settings


def register_secrets(values: Iterable[str]) -> None:
    """Add secrets that did not come from the environment (the keys in `.env`): every
    filter and journal redacts them from then on."""
    for v in values:
        if len(v) >= 4 and v not in _REGISTERED:
            _REGISTERED.append(v)


def secret_values(extra: Iterable[str] = ()) -> list[str]:
    """The secret strings that must never be written: the Alpaca keys in the environment,
    those the settings read from `.env`, and `extra`."""
    vals = [os.environ.get(k, "") for k in _SECRET_ENV] + _REGISTERED + list(extra)
    return [v for v in dict.fromkeys(vals) if len(v) >= 4]


def secret_values_of(settings: Any) -> list[str]:
    """The secret values a settings object holds (SecretStr fields)."""
    out = []
    for name in ("alpaca_api_key", "alpaca_secret_key"):
        value = getattr(settings, name, None)
        if value is not None:
            out.append(value.get_secret_value())
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s in text:
            text = text.replace(s, "[REDACTED]")
    return text


class RedactingFilter(logging.Filter):
    """Replaces any known secret in a record's final message (args and traceback included)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values(self._extra)  # read each time: `.env` keys may come later
        if not secrets:
            return True
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(msg, secrets), None
        return True


FILE_ONLY = {"file_only": True}  # `extra=` of a record meant for bot.log, not the console


class _NotFileOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


def setup_logging(
    log_dir: Path | None = None,
    level: str = "INFO",
    console: TextIO | None = None,
    max_bytes: int = 5_000_000,
    backups: int = 3,
    console_level: str = "INFO",
    secrets: Iterable[str] = (),
) -> None:
    """Console (stderr) plus, when `log_dir` is given, a rotating `bot.log` there (owner
    only: 0600 in a 0700 folder, since it names the account's orders). Records logged
    with `extra=FILE_ONLY` skip the console (details the console already summed up)."""
    register_secrets(secrets)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(level)
    redactor = RedactingFilter()
    handler: logging.Handler = logging.StreamHandler(console or sys.stderr)
    handler.setLevel(console_level)
    handler.setFormatter(logging.Formatter("%(levelname)-7s %(message)s"))
    handler.addFilter(redactor)
    handler.addFilter(_NotFileOnly())
    root.addHandler(handler)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = logging.handlers.RotatingFileHandler(
            log_dir / "bot.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        fh.addFilter(redactor)
        root.addHandler(fh)


class Journal:
    """Appends one JSON object per event to a file; buffered, flushed on `flush()`."""

    def __init__(self, path: Path | None, run_id: str | None = None, buffer: int = 256) -> None:
        self.path = path
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._buf: list[str] = []
        self._limit = buffer
        self._secrets = secret_values()  # the settings registered `.env` keys before this
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write(self, event: Event) -> None:
        """One line for `event`: its time of writing, the run id, its kind and fields."""
        self.event(event.kind, **event.as_dict())

    def event(self, kind: str, /, **fields: Any) -> None:
        rec = {"time": datetime.now(UTC).isoformat(), "run_id": self.run_id, "event": kind}
        rec.update(fields)
        line = json.dumps(rec, default=str, separators=(",", ":"))
        self._buf.append(redact(line, self._secrets) if self._secrets else line)
        if len(self._buf) >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(self._buf) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self._buf.clear()
