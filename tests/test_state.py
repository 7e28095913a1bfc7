"""The SQLite state: durable, and never mistaken for "flat" when damaged (scenario 3)."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.models import Fill, OrderIntent, Side
from bot.store.state import StateError, StateStore, _put


def populated(path: Path) -> tuple[list[str], list[Fill]]:
    store = StateStore(path)
    ids = []
    fills = []
    for i in range(40):
        intent = OrderIntent(
            f"lb-BABA-r163.43-2026011{i % 10}T0000-buy-{i}",
            "BABA",
            Side.BUY,
            100 + i,
            reason="x" * 200,
            level="resistance_163.43",
        )
        store.record_intent(intent, level=intent.level)
        store.update_order(
            intent.client_order_id, status="filled", filled_qty=100 + i, avg_price=170.0
        )
        f = Fill(
            intent.client_order_id, Side.BUY, 100 + i, 170.0 + i, 1_700_000_000_000_000_000 + i, 0.0
        )
        store.add_fill(f"{intent.client_order_id}:{100 + i}", f)
        ids.append(intent.client_order_id)
        fills.append(f)
    store.close()
    return ids, fills


def content(path: Path) -> tuple[list[str], list[Fill]]:
    store = StateStore(path)
    try:
        return [r.client_order_id for r in store.orders()], store.fills()
    finally:
        store.close()


def test_round_trip_and_idempotent_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    ids, fills = populated(path)
    store = StateStore(path)
    # the same intent and the same fill id are refused the second time
    assert store.record_intent(OrderIntent(ids[0], "BABA", Side.BUY, 1)) is False
    assert store.add_fill(f"{ids[0]}:100", fills[0]) is False
    store.close()
    assert content(path) == (ids, fills)


def _damaged_variants(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    out = [("empty", b"")]
    for k in range(10):
        out.append((f"truncated-{k}", data[: rng.randrange(1, len(data))]))
        cut = rng.randrange(len(data) // 2, len(data))
        out.append((f"tail-zeroed-{k}", data[:cut] + b"\0" * (len(data) - cut)))
        pos = rng.randrange(len(data))
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        out.append((f"bit-flipped-{k}", bytes(flipped)))
    return out


def test_damaged_files_are_refused_or_intact_never_flat(tmp_path: Path) -> None:
    good = tmp_path / "good.sqlite"
    expected = populated(good)
    data = good.read_bytes()
    rng = random.Random(3)
    refused = 0
    for name, blob in _damaged_variants(data, rng):
        path = tmp_path / f"{name}.sqlite"
        path.write_bytes(blob)
        try:
            got = content(path)
        except StateError as exc:
            assert str(path) in str(exc)  # names the file
            refused += 1
            continue
        except sqlite3.DatabaseError as exc:  # pragma: no cover - must be wrapped
            pytest.fail(f"{name}: raw sqlite error escaped: {exc}")
        # Opened: then it must hold exactly what was written (the damage hit free space);
        # an empty or partial record would let the bot think it is flat.
        assert got == expected, name
    assert refused >= 15  # most damage is detected


def test_wrong_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    populated(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="schema version '99'") as exc:
        StateStore(path)
    assert str(path) in str(exc.value)


def test_readers_never_see_a_partial_write(tmp_path: Path) -> None:
    """1,000 reads while another connection writes intent+fill pairs in transactions:
    every reader sees each order with its fill, or neither."""
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    stop = threading.Event()

    def writer() -> None:
        w = StateStore(path)
        i = 0
        while not stop.is_set() and i < 5000:
            cid = f"o{i}"
            row = (
                cid,
                None,
                "entry",
                "BABA",
                "buy",
                1.0,
                "market",
                None,
                None,
                "filled",
                None,
                1.0,
                1.0,
                0,
                "",
                "",
                None,
                None,
                "",
                "",
            )
            with w.tx() as cur:  # one transaction: the order and its fill together
                _put(cur, "orders", row)
                _put(cur, "fills", (cid + ":1", cid, "buy", 1.0, 1.0, 0, 0.0, "entry", i, "BABA"))
            i += 1
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    reader = StateStore(path)
    try:
        for _ in range(1000):
            with reader.tx() as cur:
                n_orders = cur.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
                n_fills = cur.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
            assert n_orders == n_fills
    finally:
        stop.set()
        t.join()
        reader.close()
