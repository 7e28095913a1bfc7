"""Behaviour does not change under a redesign: trade lists, signals and order ids equal
fixtures recorded before it.

tests/fixtures/trades/ holds, for six scenarios (the bundled daily bars with four configs,
the bundled minute bars, the bench's seeded synthetic minute series), every closed trade,
every signal and every order intent, written by tests/fixtures/trades/record.py at commit
f248327, before issue 13's engine redesign. Each scenario is run again here through the
same `run_backtest` call and compared cell by cell (floats to 6 decimals). A difference
means the engine now trades differently: a bug, or a change that needs its own issue and
new fixtures, never a silent re-recording.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent / "fixtures" / "trades"


def _recorder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_trades", HERE / "record.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REC = _recorder()


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.mark.parametrize("name", list(REC.SCENARIOS))
def test_trades_equal_the_recorded_ones(name: str) -> None:
    head, recorded = read(HERE / f"{name}.csv")
    assert tuple(head) == REC.FIELDS
    rows, equity, position = REC.trade_rows(name)
    meta = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    assert meta["trades"] == len(recorded) > 0
    for i, (want, got) in enumerate(zip(recorded, rows, strict=False)):
        assert got == want, f"{name}: trade {i} differs"
    assert len(rows) == len(recorded)
    assert round(equity, 6) == meta["final_equity"]
    assert position == meta["final_position"]


@pytest.mark.parametrize("name", list(REC.SCENARIOS))
def test_signals_and_order_ids_equal_the_recorded_ones(name: str) -> None:
    _, signals = read(HERE / f"{name}.signals.csv")
    assert REC.signal_rows(name) == signals
    _, orders = read(HERE / f"{name}.orders.csv")
    assert REC.order_rows(name) == orders
