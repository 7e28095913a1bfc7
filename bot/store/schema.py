"""The state database's schema, its row checksums, and the upgrade of older files.

Version 3 adds the alert outbox (`outbox`: one row per alert and delivery target, written
before the alert is sent; bot/store/outbox.py). Version 2 keys every row of a symbol's
trading (orders, fills, bars, signals, equity) by its symbol, so several engines (one per
symbol) can keep their state in one file over one account; `meta` holds the account's
facts (schema version, halts, initial cash). A version 1 file (no symbol on fills, bars,
signals, equity) is upgraded when it is opened: in one transaction its rows are copied
into the new tables with the configured symbol (version 1 ran one symbol a file), fills
with their checksums recomputed over the new row, so a kill mid-way leaves the old file
as it was. A version 2 file only gains the (empty) outbox table, in the same kind of
transaction. A new file is built aside and renamed into place (`create_file`). Imports
only the standard library.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "3"
UPGRADES = ("1", "2")  # the older versions `upgrade` brings to this one

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, parent TEXT, purpose TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, qty REAL NOT NULL, type TEXT NOT NULL, stop_price REAL, limit_price REAL,
    status TEXT NOT NULL, broker_id TEXT, filled_qty REAL NOT NULL DEFAULT 0, avg_price REAL,
    signal_ts INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    stop_loss REAL, take_profit REAL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL,
    price REAL NOT NULL, ts INTEGER NOT NULL, commission REAL NOT NULL, purpose TEXT NOT NULL,
    seq INTEGER NOT NULL, symbol TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL, ts INTEGER NOT NULL, open REAL, high REAL, low REAL, close REAL,
    volume REAL, session INTEGER, PRIMARY KEY (symbol, ts));
CREATE TABLE IF NOT EXISTS signals (
    symbol TEXT NOT NULL, ts INTEGER NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (symbol, ts, level, kind));
CREATE TABLE IF NOT EXISTS equity (
    symbol TEXT NOT NULL, ts INTEGER NOT NULL, equity REAL, cash REAL, qty REAL,
    PRIMARY KEY (symbol, ts));
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL, target TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,
    symbol TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, attachment TEXT,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, message TEXT,
    sent_at REAL, error TEXT, PRIMARY KEY (alert_id, target));
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, next_at);
"""

# The version 1 tables that gained a symbol, and how their rows are copied: the old
# columns, in the order of the new table with the symbol put in as a parameter.
_V1_COPY = {
    "bars": "SELECT ?, ts, open, high, low, close, volume, session FROM old_bars",
    "signals": "SELECT ?, ts, level, kind, body FROM old_signals",
    "equity": "SELECT ?, ts, equity, cash, qty FROM old_equity",
}


def create(cur: sqlite3.Cursor) -> None:
    """The tables of this version (in an open transaction)."""
    for stmt in SCHEMA.strip().split(";"):
        if stmt.strip():
            cur.execute(stmt)


def create_file(path: Path) -> None:
    """A new state database with its schema, written to a temporary file, fsynced, and
    renamed into place (atomic on POSIX), so its path holds a whole database or nothing."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        cur = db.cursor()
        cur.execute("BEGIN")
        create(cur)
        put(cur, "meta", ("schema_version", SCHEMA_VERSION))
        cur.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(str(path.parent), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def upgrade(cur: sqlite3.Cursor, symbol: str) -> None:
    """Bring a file of a version in `UPGRADES` to this one (in an open transaction): each
    step from its version on, the tables this version adds created at the end."""
    row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and row[0] == "1":
        _upgrade_1_to_2(cur, symbol)
    create(cur)  # version 2 -> 3: the outbox (every CREATE is IF NOT EXISTS)
    put(cur, "meta", ("schema_version", SCHEMA_VERSION))


def _upgrade_1_to_2(cur: sqlite3.Cursor, symbol: str) -> None:
    """Version 1 -> 2: every row of a symbol's trading keyed by its symbol."""
    if not symbol:
        # Version 1 files hold one symbol's orders: theirs is the symbol of the rest.
        found = {r[0] for r in cur.execute("SELECT DISTINCT symbol FROM orders")}
        symbol = found.pop() if len(found) == 1 else ""
    for table in ("fills", *_V1_COPY):
        cur.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
    create(cur)
    for table, select in _V1_COPY.items():
        cur.execute(f"INSERT INTO {table} {select}", (symbol,))
    old = cur.execute(
        "SELECT fill_id, client_order_id, side, qty, price, ts, commission, purpose, seq "
        "FROM old_fills ORDER BY seq"
    ).fetchall()
    for row in old:
        put(cur, "fills", (*row, symbol))  # a new row, so a new checksum
    for table in ("fills", *_V1_COPY):
        cur.execute(f"DROP TABLE old_{table}")


def crc(values: tuple[Any, ...]) -> int:
    # Numbers as floats: SQLite gives back 100.0 for an int written to a REAL column.
    canon = tuple(float(v) if isinstance(v, int | float) else v for v in values)
    return zlib.crc32(repr(canon).encode("utf-8"))


def put(cur: sqlite3.Cursor, table: str, row: tuple[Any, ...], ignore: bool = False) -> bool:
    """Insert (or replace) a row with its checksum; False if `ignore` and it existed."""
    verb = "INSERT OR IGNORE" if ignore else "INSERT OR REPLACE"
    marks = ",".join("?" * (len(row) + 1))
    cur.execute(f"{verb} INTO {table} VALUES ({marks})", (*row, crc(row)))
    return cur.rowcount == 1
