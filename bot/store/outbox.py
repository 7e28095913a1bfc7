"""The alert outbox: one row per alert and delivery target, in the state database.

A row is written (`add`) before anything is sent, with its alert id, channel, target (a
key of one Apprise URL, never the URL: it holds tokens), status, attempts, next attempt
time and expiry. Statuses:

- `pending`: to be sent at `next_at` or later;
- `sending`: marked, in one committed transaction, just before the call to the channel
  (`mark_sending`), with the id of the message that carries it (the alert's own, or a
  digest's);
- `delivered` (with `sent_at`), `expired` (never sent in time), `in_doubt` (see below).

The alert id and the target are the primary key, so an alert made again (a restart
replaying the same bars) is a no-op, whatever its status: never sent twice by
construction.

A `sending` row found when the outbox is opened (`recover`) belonged to a process that
died between the mark and the result: the channel may or may not have the message, and
Apprise's channels (Telegram, Discord, webhooks...) take no idempotency key that would let
a resend be dropped on their side. Sending it again would risk a duplicate; not sending
it risks a loss. The outbox takes the first promise ("never twice") as absolute: such a
row becomes `in_doubt` and is not sent again, and the deliverer sends one notice per
target naming the alerts that may not have arrived (bot/alerts/deliver.py). So nothing is
lost *silently*: the user learns of it, and the window is only the time of one HTTP call.
A channel call that fails with the message actually taken (a response lost in a time-out)
is retried like any failure: that duplicate is the channel's, and this code cannot see it.

Each `OutboxStore` has its own SQLite connection (WAL, synchronous=FULL, like
StateStore's), shared by the caller's thread (`add`) and the deliverer's under a lock.
Imports bot.store.state (to create or upgrade the file) and the standard library.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.store.state import StateStore

PENDING, SENDING, DELIVERED = "pending", "sending", "delivered"
EXPIRED, IN_DOUBT = "expired", "in_doubt"
UNSETTLED = (PENDING, SENDING)

_COLUMNS = (
    "alert_id, target, channel, kind, symbol, title, body, attachment, created_at, "
    "expires_at, status, attempts, next_at, message, sent_at, error"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One alert for one target. Times are UNIX seconds (UTC)."""

    alert_id: str
    target: str
    channel: str
    kind: str
    symbol: str
    title: str
    body: str
    attachment: str | None
    created_at: float
    expires_at: float
    status: str
    attempts: int
    next_at: float
    message: str | None
    sent_at: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewRow:
    """What `add` writes for each target: the alert's content and its expiry."""

    alert_id: str
    channel: str
    kind: str
    symbol: str
    title: str
    body: str
    attachment: str | None
    created_at: float
    expires_at: float
    not_before: float | None = None  # first try no earlier (a chart being drawn); None: now


class OutboxStore:
    def __init__(self, path: Path) -> None:
        """Open the outbox of the state database at `path` (created, or upgraded to the
        schema with the outbox, through StateStore's checks)."""
        self.path = path
        StateStore(path).close()  # creates, checks and upgrades the file, or raises StateError
        self._lock = threading.Lock()
        # Used from two threads, always under `_lock` (sqlite3 objects are not thread-safe).
        self.db = sqlite3.connect(
            str(path), isolation_level=None, timeout=10.0, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self.db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[OutboxRow]:
        with self._lock:
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM outbox {sql}", args).fetchall()
        return [OutboxRow(*r) for r in rows]

    # -- writing -------------------------------------------------------------------
    def add(self, row: NewRow, targets: Iterable[str]) -> int:
        """Write the alert for each target, pending from now; the number of rows new (0:
        this alert was written before, for every target)."""
        new = 0
        with self._tx() as cur:
            for target in dict.fromkeys(targets):
                cur.execute(
                    f"INSERT OR IGNORE INTO outbox ({_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        *(row.alert_id, target, row.channel, row.kind, row.symbol, row.title),
                        *(row.body, row.attachment, row.created_at, row.expires_at, PENDING),
                        *(0, row.created_at if row.not_before is None else row.not_before),
                        *(None, None, None),
                    ),
                )
                new += cur.rowcount
        return new

    def release(self, alert_id: str, now: float) -> int:
        """Make the alert's untried rows due now (its attachment is ready); how many."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE outbox SET next_at = ? WHERE alert_id = ? AND status = ? "
                "AND attempts = 0 AND next_at > ?",
                (now, alert_id, PENDING, now),
            )
            return int(cur.rowcount)

    def recover(self) -> list[OutboxRow]:
        """Rows left `sending` by a process that died: now `in_doubt` (never resent)."""
        with self._tx() as cur:
            found = cur.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE status = ? ORDER BY created_at, alert_id",
                (SENDING,),
            ).fetchall()
            cur.execute(
                "UPDATE outbox SET status = ?, error = 'in flight when the process stopped' "
                "WHERE status = ?",
                (IN_DOUBT, SENDING),
            )
        return [OutboxRow(*r) for r in found]

    def retarget(self, target: str, channel: str, new_targets: list[str]) -> int:
        """Move `target`'s pending rows of `channel` to `new_targets` (its URL left the
        configuration); rows an alert already has there are kept as they are."""
        with self._tx() as cur:
            for new in new_targets:
                cur.execute(
                    f"INSERT OR IGNORE INTO outbox ({_COLUMNS}) SELECT alert_id, ?, channel, "
                    "kind, symbol, title, body, attachment, created_at, expires_at, status, "
                    "attempts, next_at, message, sent_at, error FROM outbox "
                    "WHERE target = ? AND channel = ? AND status = ?",
                    (new, target, channel, PENDING),
                )
            cur.execute(
                "DELETE FROM outbox WHERE target = ? AND channel = ? AND status = ?",
                (target, channel, PENDING),
            )
            return cur.rowcount

    def expire(self, now: float) -> list[OutboxRow]:
        """Pending rows past their expiry: now `expired`."""
        with self._tx() as cur:
            found = cur.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE status = ? AND expires_at <= ?",
                (PENDING, now),
            ).fetchall()
            cur.execute(
                "UPDATE outbox SET status = ? WHERE status = ? AND expires_at <= ?",
                (EXPIRED, PENDING, now),
            )
        return [OutboxRow(*r) for r in found]

    def mark_sending(self, ids: list[str], target: str, message: str) -> None:
        """Committed before the channel is called: the mark `recover` finds after a crash."""
        self._set(ids, target, "status = ?, message = ?, attempts = attempts + 1",
                  (SENDING, message))  # fmt: skip

    def mark_delivered(self, ids: list[str], target: str, now: float) -> None:
        self._set(ids, target, "status = ?, sent_at = ?, error = NULL", (DELIVERED, now))

    def mark_failed(self, ids: list[str], target: str, retry_at: float, error: str) -> None:
        self._set(ids, target, "status = ?, next_at = ?, error = ?", (PENDING, retry_at, error))

    def defer(self, target: str, until: float) -> None:
        """No pending row of `target` is tried before `until` (the target is failing)."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE outbox SET next_at = ? WHERE target = ? AND status = ? AND next_at < ?",
                (until, target, PENDING, until),
            )

    def _set(self, ids: list[str], target: str, assign: str, args: tuple[object, ...]) -> None:
        marks = ",".join("?" * len(ids))
        with self._tx() as cur:
            cur.execute(
                f"UPDATE outbox SET {assign} WHERE target = ? AND alert_id IN ({marks})",
                (*args, target, *ids),
            )

    # -- reading -------------------------------------------------------------------
    def due(self, target: str, now: float) -> list[OutboxRow]:
        """`target`'s pending rows due at `now`, oldest first."""
        return self._rows(
            "WHERE target = ? AND status = ? AND next_at <= ? ORDER BY created_at, alert_id",
            (target, PENDING, now),
        )

    def due_targets(self, now: float) -> list[str]:
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT target FROM outbox WHERE status = ? AND next_at <= ? "
                "ORDER BY target",
                (PENDING, now),
            ).fetchall()
        return [r[0] for r in rows]

    def pending_targets(self) -> list[tuple[str, str]]:
        """(target, channel) of every pending row."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT target, channel FROM outbox WHERE status = ?", (PENDING,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def next_event(self) -> float | None:
        """The earliest time a pending row becomes due or expires."""
        with self._lock:
            row = self.db.execute(
                "SELECT MIN(MIN(next_at, expires_at)) FROM outbox WHERE status = ?", (PENDING,)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def sent_since(self, target: str, since: float) -> list[float]:
        """The send times of `target`'s messages (a digest counts once) since `since`."""
        with self._lock:
            rows = self.db.execute(
                "SELECT MIN(sent_at) FROM outbox WHERE target = ? AND status = ? "
                "AND sent_at >= ? GROUP BY message ORDER BY 1",
                (target, DELIVERED, since),
            ).fetchall()
        return [float(r[0]) for r in rows]

    def unsettled(self) -> int:
        """Rows pending or being sent."""
        with self._lock:
            row = self.db.execute(
                f"SELECT COUNT(*) FROM outbox WHERE status IN ({','.join('?' * len(UNSETTLED))})",
                UNSETTLED,
            ).fetchone()
        return int(row[0])

    def rows(self, alert_id: str | None = None) -> list[OutboxRow]:
        """Every row (of one alert), in the order they were written."""
        if alert_id is None:
            return self._rows("ORDER BY rowid")
        return self._rows("WHERE alert_id = ? ORDER BY rowid", (alert_id,))


__all__ = ["DELIVERED", "EXPIRED", "IN_DOUBT", "PENDING", "SENDING", "NewRow", "OutboxRow",
           "OutboxStore"]  # fmt: skip
