"""Durable state in SQLite (WAL): what the bot did, so a restart can resume without
duplicating or forgetting an order.

Holds order intents (written *before* an order is sent), orders and their broker
status, fills (keyed so a fill is never booked twice), processed bars, signals,
equity snapshots and small facts (halted, initial cash, schema version). Every row of
a symbol's trading carries its symbol (bot/store/schema.py: the schema and the upgrade of
older files): a store opened for a symbol reads and writes that symbol's rows only, so
one file can hold several engines over one account. Every write is
one transaction with `synchronous=FULL`, so a `kill -9` leaves either the old or the
new state, never half of one. A file that is not a readable database of this schema
raises `StateError` naming the file: the bot never treats a damaged file as "flat".
Orders come back as `OrderRecord`s (bot/store/records.py). The alert outbox lives in the
same file, behind its own connection (bot/store/outbox.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import Bar, Fill, OrderIntent, Side
from bot.store.records import OPEN_STATUSES, OrderRecord, order_record, session_of
from bot.store.schema import SCHEMA_VERSION, UPGRADES, create_file, upgrade
from bot.store.schema import crc as _crc
from bot.store.schema import put as _put

# The rows of the store's symbol (every row when it is opened for none), with the symbol
# as its two parameters.
_MINE = "(? = '' OR symbol = ?)"


class StateError(Exception):
    """The state file cannot be trusted; the message names it."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StateStore:
    def __init__(self, path: Path, symbol: str = "") -> None:
        """Open (or create) the state at `path` for `symbol`'s engine; "" reads every
        symbol's rows and writes each row under its own (the order's, the bar's)."""
        self.path = path
        self.symbol = symbol
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size == 0:
            # An empty file is not a fresh start: something truncated it.
            raise StateError(f"state file {path} is empty (truncated?); refusing to start as flat")
        if not path.exists():
            create_file(path)  # built aside and renamed in: a kill mid-way leaves no half file
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StateError(f"state file {path} is corrupt: {check}")
            version = self.get_meta("schema_version")
            if version != SCHEMA_VERSION and version not in UPGRADES:
                raise StateError(
                    f"state file {path} has schema version {version!r}, expected {SCHEMA_VERSION!r}"
                )
            self._verify()  # before an upgrade, which writes new checksums
            if version != SCHEMA_VERSION:
                with self.tx() as cur:
                    upgrade(cur, symbol)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise StateError(f"state file {path} is not a readable state database: {exc}") from None

    def _verify(self) -> None:
        """Every row of the tables that decide trading carries a checksum: a flipped byte
        in them stops the bot instead of silently changing an order or a fill."""
        for table in ("meta", "orders", "fills"):
            for row in self.db.execute(f"SELECT * FROM {table}"):
                if _crc(row[:-1]) != row[-1]:
                    raise StateError(
                        f"state file {self.path} is corrupt: a {table} row fails its checksum"
                    )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Cursor]:
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as cur:
            _put(cur, "meta", (key, value))

    # -- orders --------------------------------------------------------------------
    def record_intent(
        self, intent: OrderIntent, parent: str | None = None, level: str = ""
    ) -> bool:
        """Write an intent before it is sent; False if this id was recorded already."""
        now = _now()
        row = (
            *(intent.client_order_id, parent, intent.purpose, intent.symbol, str(intent.side)),
            *(float(intent.qty), str(intent.type), intent.stop_price, intent.limit_price),
            *("intent", None, 0.0, None, intent.signal_ts, intent.reason, level or intent.level),
            *(intent.stop_loss, intent.take_profit, now, now),
        )
        with self.tx() as cur:
            return _put(cur, "orders", row, ignore=True)

    def update_order(self, client_order_id: str, **fields: Any) -> None:
        if not fields:
            return
        with self.tx() as cur:
            cur.row_factory = sqlite3.Row
            old = cur.execute(
                "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)
            ).fetchone()
            cur.row_factory = None
            if old is None:
                return
            new = {k: old[k] for k in old.keys() if k != "crc"}  # noqa: SIM118 (sqlite3.Row)
            new.update(fields, updated_at=_now())
            _put(cur, "orders", tuple(new.values()))

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        row = self.db.execute(
            "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else order_record(row)

    def orders(self, open_only: bool = False) -> list[OrderRecord]:
        sql = f"SELECT * FROM orders WHERE {_MINE}"
        args: tuple[str, ...] = (self.symbol, self.symbol)
        if open_only:
            sql += f" AND status IN ({','.join('?' * len(OPEN_STATUSES))})"
            args += OPEN_STATUSES
        rows = self.db.execute(sql + " ORDER BY rowid", args)
        return [order_record(r) for r in rows.fetchall()]

    # -- fills ---------------------------------------------------------------------
    def add_fill(self, fill_id: str, fill: Fill) -> bool:
        """Book a fill once; False if this fill id is known (a re-poll, a restart)."""
        with self.tx() as cur:
            seq = cur.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
            row = (
                fill_id,
                fill.client_order_id,
                str(fill.side),
                float(fill.qty),
                float(fill.price),
                fill.ts,
                float(fill.commission),
                fill.purpose,
                seq,
                self.symbol or fill.symbol,
            )
            return _put(cur, "fills", row, ignore=True)

    def fills(self) -> list[Fill]:
        rows = self.db.execute(
            "SELECT client_order_id, side, qty, price, ts, commission, purpose, symbol "
            f"FROM fills WHERE {_MINE} ORDER BY seq",
            (self.symbol, self.symbol),
        ).fetchall()
        return [Fill(r[0], Side(r[1]), r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    # -- bars, signals, equity -----------------------------------------------------
    def _bar_row(self, bar: Bar) -> tuple[Any, ...]:
        return (self.symbol or bar.symbol, *bar[:7])

    def add_bar_result(self, bar: Bar, equity: float, cash: float, qty: float) -> None:
        """A processed bar with the account at its close (its equity row is the mark of
        a processed bar: `last_bar_ts`)."""
        row = self._bar_row(bar)
        with self.tx() as cur:
            cur.execute("INSERT OR REPLACE INTO bars VALUES (?,?,?,?,?,?,?,?)", row)
            cur.execute(
                "INSERT OR REPLACE INTO equity VALUES (?,?,?,?,?)", (*row[:2], equity, cash, qty)
            )

    def add_history(self, bars: list[Bar]) -> None:
        """Bars seen during warm-up, so `bot status` can rebuild levels without the feed."""
        with self.tx() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO bars VALUES (?,?,?,?,?,?,?,?)", map(self._bar_row, bars)
            )

    def bars(self) -> list[Bar]:
        rows = self.db.execute(
            f"SELECT ts, open, high, low, close, volume, session, symbol FROM bars WHERE {_MINE} "
            "ORDER BY ts",
            (self.symbol, self.symbol),
        ).fetchall()
        return [Bar(*r) for r in rows]

    def add_signal(
        self, ts: int, level: str, kind: str, body: dict[str, Any], symbol: str = ""
    ) -> None:
        with self.tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO signals VALUES (?,?,?,?,?)",
                (self.symbol or symbol, ts, level, kind, json.dumps(body)),
            )

    def signals(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT body FROM signals WHERE {_MINE} ORDER BY ts", (self.symbol, self.symbol)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def last_bar_ts(self) -> int | None:
        row = self.db.execute(
            f"SELECT MAX(ts) FROM equity WHERE {_MINE}", (self.symbol, self.symbol)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def orders_in_session(self, session: int) -> int:
        """Orders the bot sent (not broker-made legs) for signals of one session."""
        return sum(
            1
            for r in self.orders()
            if r.parent is None and r.purpose != "adopted" and session_of(r.signal_ts) == session
        )

    def session_start_equity(self, session: int) -> float | None:
        """Equity at the last traded bar before `session` began, or None if none."""
        mine = (self.symbol, self.symbol)
        row = self.db.execute(
            f"SELECT equity FROM equity WHERE {_MINE} AND ts < "
            f"(SELECT MIN(ts) FROM bars WHERE {_MINE} AND session = ?) ORDER BY ts DESC LIMIT 1",
            (*mine, *mine, session),
        ).fetchone()
        return None if row is None else float(row[0])

    def bar_session(self, ts: int) -> int | None:
        row = self.db.execute(
            f"SELECT session FROM bars WHERE {_MINE} AND ts = ?", (self.symbol, self.symbol, ts)
        ).fetchone()
        return None if row is None else int(row[0])

    def equity_rows(self) -> list[tuple[int, float, float, float]]:
        return self.db.execute(
            f"SELECT ts, equity, cash, qty FROM equity WHERE {_MINE} ORDER BY ts",
            (self.symbol, self.symbol),
        ).fetchall()
