"""Reading `logs/events.jsonl` back: filters for `bot logs`, and the table it prints.

Each line is one JSON event with at least `time`, `run_id` and `event`. A line that
does not parse is reported, never silently skipped.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table

from bot.events.journal import EVENTS

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class LogError(Exception):
    """A bad filter or an unreadable log line; the message names it."""


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'30m', '2h', '1d' (ago) or an ISO date/time (UTC if naive)."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - timedelta(**{_UNITS[unit]: n})
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise LogError(
            f"--since {text!r}: use a duration like 30m, 2h, 1d or an ISO date/time"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogError(f"{path} line {n} is not JSON: {exc.msg}") from None


def last_run_id(path: Path) -> str | None:
    run = None
    for ev in read_events(path):
        if ev.get("event") == "run_start":
            run = ev.get("run_id")
    return run


def check_kinds(kinds: list[str] | None) -> None:
    """Refuse an event name the bot never writes (a filter on it would show nothing)."""
    for kind in kinds or []:
        if kind not in EVENTS:
            close = difflib.get_close_matches(kind, EVENTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise LogError(
                f"unknown event {kind!r}{hint}; the events are: {', '.join(sorted(EVENTS))}"
            )


def select(
    events: Iterator[dict[str, Any]],
    kinds: list[str] | None = None,
    since: datetime | None = None,
    run_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    for ev in events:
        if kinds and ev.get("event") not in kinds:
            continue
        if run_id and ev.get("run_id") != run_id:
            continue
        if since is not None and datetime.fromisoformat(ev["time"]) < since:
            continue
        yield ev


def follow(path: Path, poll_s: float = 0.5) -> Iterator[dict[str, Any]]:
    """Existing events, then new ones as they are appended (Ctrl-C to stop)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    with path.open(encoding="utf-8") as fh:
        buf = ""
        while True:
            chunk = fh.readline()
            if not chunk:
                time.sleep(poll_s)
                continue
            buf += chunk
            if buf.endswith("\n"):
                line, buf = buf.strip(), ""
                if line:
                    yield json.loads(line)


_SKIP = {"time", "run_id", "event"}


def table(events: list[dict[str, Any]]) -> Table:
    t = Table(title=f"{len(events)} event(s)", title_justify="left")
    t.add_column("time (UTC)", no_wrap=True)
    t.add_column("event", no_wrap=True)
    t.add_column("details", overflow="fold")
    for ev in events:
        details = " ".join(
            f"{k}={v}" for k, v in ev.items() if k not in _SKIP and v not in (None, "")
        )
        t.add_row(str(ev.get("time", ""))[:19], str(ev.get("event", "")), details)
    return t
