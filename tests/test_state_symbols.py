"""State rows keyed by symbol (issue 13 item 5): a version 1 file, written here with the
schema SQL of version 1, is upgraded when opened, its rows taking the configured symbol;
a store opened for one symbol sees only that symbol's rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.models import Bar, Fill, Side
from bot.store.schema import SCHEMA_VERSION, crc
from bot.store.state import StateError, StateStore

# The schema of version 1, as bot/store/state.py had it before symbols.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY, parent TEXT, purpose TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, qty REAL NOT NULL, type TEXT NOT NULL, stop_price REAL, limit_price REAL,
    status TEXT NOT NULL, broker_id TEXT, filled_qty REAL NOT NULL DEFAULT 0, avg_price REAL,
    signal_ts INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    stop_loss REAL, take_profit REAL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    crc INTEGER NOT NULL);
CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL,
    price REAL NOT NULL, ts INTEGER NOT NULL, commission REAL NOT NULL, purpose TEXT NOT NULL,
    seq INTEGER NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE bars (
    ts INTEGER PRIMARY KEY, open REAL, high REAL, low REAL, close REAL, volume REAL,
    session INTEGER);
CREATE TABLE signals (
    ts INTEGER NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (ts, level, kind));
CREATE TABLE equity (ts INTEGER PRIMARY KEY, equity REAL, cash REAL, qty REAL);
"""
CID = "lb-BABA-r163.43-20260113T0000-buy"
BAR = (1768280400000000000, 160.0, 168.0, 159.5, 167.01, 2.5e7, 20466)
FILL = (f"{CID}:149", CID, "buy", 149.0, 171.66, 1768366800000000000, 0.0, "entry", 0)


def write_v1(path: Path, fill: tuple[object, ...] = FILL) -> None:
    """A state file as version 1 wrote it: one order, its fill, a bar, a signal, equity."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    rows: dict[str, list[tuple[object, ...]]] = {
        "meta": [("schema_version", "1"), ("last_bar_ts", str(BAR[0])), ("initial_cash", "1e5")],
        "orders": [
            (
                CID,
                None,
                "entry",
                "BABA",
                "buy",
                149.0,
                "market",
                None,
                None,
                "filled",
                "b1",
                149.0,
                171.66,
                BAR[0],
                "breakout",
                "resistance_163.43",
                None,
                None,
                "t",
                "t",
            ),
        ],
    }
    for table, table_rows in rows.items():
        for row in table_rows:
            db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * (len(row) + 1))})",
                       (*row, crc(row)))  # fmt: skip
    db.execute(f"INSERT INTO fills VALUES ({','.join('?' * 10)})", (*fill, crc(FILL)))
    db.execute("INSERT INTO bars VALUES (?,?,?,?,?,?,?)", BAR)
    db.execute("INSERT INTO equity VALUES (?,?,?,?)", (BAR[0], 1e5, 1e5, 0.0))
    body = json.dumps({"time": "2026-01-13T00:00:00-05:00", "kind": "breakout"})
    db.execute(
        "INSERT INTO signals VALUES (?,?,?,?)", (BAR[0], "resistance_163.43", "breakout", body)
    )
    db.commit()
    db.close()


def test_a_version_1_file_is_upgraded_at_open_with_the_configured_symbol(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    write_v1(path)
    store = StateStore(path, "BABA")
    assert store.get_meta("schema_version") == SCHEMA_VERSION
    assert store.get_meta("initial_cash") == "1e5"  # the account's facts stay as they were
    assert store.fills() == [Fill(CID, Side.BUY, 149.0, 171.66, FILL[5], 0.0, "entry", "BABA")]
    assert store.bars() == [Bar(*BAR, symbol="BABA")]
    assert store.equity_rows() == [(BAR[0], 1e5, 1e5, 0.0)]
    assert store.last_bar_ts() == BAR[0]
    assert store.signals() == [{"time": "2026-01-13T00:00:00-05:00", "kind": "breakout"}]
    assert [(o.client_order_id, o.symbol) for o in store.orders()] == [(CID, "BABA")]
    assert store.add_fill(f"{CID}:149", store.fills()[0]) is False  # still booked once
    store.close()
    # The upgraded file opens again (its new checksums hold), and keys every row by symbol.
    other = StateStore(path, "XYZ")
    assert (other.fills(), other.bars(), other.orders(), other.signals()) == ([], [], [], [])
    assert other.last_bar_ts() is None and other.equity_rows() == []
    other.close()
    db = sqlite3.connect(path)
    assert {r[0] for r in db.execute("SELECT symbol FROM fills UNION SELECT symbol FROM bars")} == {
        "BABA"
    }
    db.close()


def test_an_upgrade_takes_the_orders_symbol_when_none_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    write_v1(path)
    store = StateStore(path)
    assert [f.symbol for f in store.fills()] == ["BABA"]
    assert [b.symbol for b in store.bars()] == ["BABA"]
    store.close()


def test_a_damaged_version_1_fill_is_refused_not_upgraded(tmp_path: Path) -> None:
    """The checksums are checked before the upgrade writes new ones: a flipped price in
    an old fill must not be blessed by the upgrade."""
    path = tmp_path / "state.sqlite"
    write_v1(path, fill=(*FILL[:4], 17.166, *FILL[5:]))
    with pytest.raises(StateError, match="fills row fails its checksum"):
        StateStore(path, "BABA")
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    db.close()
