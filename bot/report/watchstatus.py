"""`bot status` of a level watcher's state directory (`bot watch`'s `[watch] state_dir`, or
`<paper.state_dir>/watch` inside `bot paper`): running or not, the session it last
finished, each symbol's last minute, and its alerts by delivery state, the last ones
listed. Read only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.models import ns_to_et
from bot.report.status import runner_state
from bot.store.outbox import OutboxStore
from bot.store.state import StateStore

ROLE = "watch"  # the state's `role` meta of a watcher (bot/watch/live.py sets it)
LAST = 10  # alerts listed


@dataclass
class WatchStatus:
    runner: str
    finished_day: str | None
    last_minutes: dict[str, str]
    by_status: dict[str, int]
    last_alerts: list[tuple[str, str, str, str]]  # (made, kind, title, status)


def is_watch_state(state_dir: Path) -> bool:
    path = state_dir / "state.sqlite"
    if not path.exists():
        return False
    store = StateStore(path)
    try:
        return store.get_meta("role") == ROLE
    finally:
        store.close()


def read_watch_status(state_dir: Path, heartbeat_s: float) -> WatchStatus:
    path = state_dir / "state.sqlite"
    store = StateStore(path)
    try:
        finished = store.get_meta("finished_day")
        symbols = (store.get_meta("symbols") or "").split(",")
        minutes = {}
        for sym in filter(None, symbols):
            ts = store.get_meta(f"last_minute:{sym}")
            minutes[sym] = "none yet" if not ts else f"{ns_to_et(int(ts)):%Y-%m-%d %H:%M} ET"
    finally:
        store.close()
    outbox = OutboxStore(path)
    try:
        rows = outbox.rows()
    finally:
        outbox.close()
    by_status = Counter(r.status for r in rows)
    last = [
        (datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S"), r.kind,
         r.title, r.status)
        for r in rows[-LAST:]
    ]  # fmt: skip
    return WatchStatus(runner_state(state_dir, heartbeat_s), finished, minutes, dict(by_status),
                       last)  # fmt: skip


def watch_status_view(console: Console, st: WatchStatus, state_dir: Path) -> None:
    console.print(f"level watcher ({state_dir}): {st.runner}", markup=False)
    console.print(f"last session finished: {st.finished_day or 'none yet'}", markup=False)
    for sym, when in st.last_minutes.items():
        console.print(f"{sym}: last minute {when}", markup=False)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(st.by_status.items()))
    console.print(f"alerts: {counts or 'none yet'}", markup=False)
    if st.last_alerts:
        table = Table(title=f"last {len(st.last_alerts)} alert(s) (made, UTC)")
        for col in ("made", "kind", "title", "status"):
            table.add_column(col)
        for row in st.last_alerts:
            table.add_row(*row)
        console.print(table)


__all__ = ["ROLE", "WatchStatus", "is_watch_state", "read_watch_status", "watch_status_view"]
