"""`bot data` and the Parquet store: fetch and update through the real alpaca-py SDK
against the emulator on 127.0.0.1 (several symbols, daily and minute bars, pages of a
few bars), list with gaps, export and import, damaged files, two writers at once.

Expected bars are read straight from the CSV files with the csv module, not through the
bot's loader or store.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.data.series import BarSeries
from bot.data.store import BarStore, StoreError
from bot.emulator import EmulatorServer, EmulatorState
from bot.models import DataError
from tests.conftest import DAILY_CSV, MINUTE_CSV, PROJECT_ROOT

KEY, SECRET = "data-key", "data-secret"
# 18:00 ET on 2026-02-10: the day's bar is final (its late prints are in from 16:10 ET).
CLOCK = datetime(2026, 2, 10, 23, 0, tzinfo=UTC)
AT_CLOSE = datetime(2026, 2, 10, 21, 0, tzinfo=UTC)  # 16:00 ET: the day's first final bar


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _scaled(rows: list[dict[str, str]], k: float) -> list[dict[str, str]]:
    """Another stock: the same days, prices times k (a different series to tell apart)."""
    out = []
    for r in rows:
        s = dict(r)
        for col in ("open", "high", "low", "close"):
            s[col] = repr(round(float(r[col]) * k, 4))
        out.append(s)
    return out


@pytest.fixture(scope="module")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("market")
    rows = _rows(DAILY_CSV)
    _write(d / "BABA_1d.csv", rows)
    _write(d / "AAPL_1d.csv", _scaled(rows, 1.5))
    _write(d / "MSFT_1d.csv", _scaled(rows, 2.5))
    _write(d / "BABA_1m_2026-01-29.csv", _rows(MINUTE_CSV))
    return d


@pytest.fixture
def emulator(market_dir: Path) -> Iterator[EmulatorServer]:
    # Pages of 50 bars: every fetch below takes many pages, followed by the SDK.
    state = EmulatorState.from_dir(market_dir, CLOCK, bars_page_size=50)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "store"
    monkeypatch.setenv("BOT_DATA__STORE", str(d))
    return d


def _connect(monkeypatch: pytest.MonkeyPatch, srv: EmulatorServer) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    monkeypatch.setenv("BOT_ALPACA__TRADING_URL", srv.url)
    monkeypatch.setenv("BOT_ALPACA__DATA_URL", srv.url)


def bot(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def _daily_until(
    rows: list[dict[str, str]], last: date, first: date | None = None
) -> list[dict[str, str]]:
    return [
        r
        for r in rows
        if (first is None or date.fromisoformat(r["timestamp"][:10]) >= first)
        and date.fromisoformat(r["timestamp"][:10]) <= last
    ]


def test_fetch_two_symbols_through_the_sdk_stores_exactly_the_served_bars(
    emulator: EmulatorServer, store_dir: Path, monkeypatch: pytest.MonkeyPatch, market_dir: Path
) -> None:
    _connect(monkeypatch, emulator)
    code, out, err = bot("data", "fetch", "AAPL", "MSFT", "--from", "2025-06-02")
    assert code == 0, err
    store = BarStore(store_dir)
    assert store.datasets() == [("AAPL", "1d"), ("MSFT", "1d")]
    for sym in ("AAPL", "MSFT"):
        # The emulator's clock is hours after the 2026-02-10 close: its bars up to that
        # day, final; the free plan's 15-minute SIP delay hides no finished session.
        want = _daily_until(
            _rows(market_dir / f"{sym}_1d.csv"), date(2026, 2, 10), date(2025, 6, 2)
        )
        got = store.read(sym, "1d")
        assert len(got) == len(want) > 150
        assert got.close.tolist() == [float(r["close"]) for r in want]
        assert got.volume.tolist() == [float(r["volume"]) for r in want]
        assert f"{sym} 1d: {len(want)} new bar(s), 0 revised, 0 unchanged; 0 refused" in out
    # Fetched again: nothing new, nothing lost.
    code, out, _ = bot("data", "fetch", "AAPL", "--from", "2025-06-02")
    assert code == 0 and "0 new bar(s)" in out and "0 revised" in out


def test_fetch_minute_bars(
    emulator: EmulatorServer, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, emulator)
    code, _, err = bot("data", "fetch", "BABA", "--timeframe", "1m", "--from", "2026-01-29")
    assert code == 0, err
    got = BarStore(store_dir).read("BABA", "1m")
    # The file's rows by minute, the last row winning on a repeated minute, as served.
    by_minute: dict[str, dict[str, str]] = {}
    for r in _rows(MINUTE_CSV):
        by_minute[r["timestamp"]] = r
    want = sorted(by_minute.values(), key=lambda r: r["timestamp"])
    # The emulator serves what its loader kept: regular hours (09:30-16:00 ET) only, and
    # no row off the minute grid (the file has one stamped 10:45:01).
    want = [
        r
        for r in want
        if "09:30" <= r["timestamp"][11:16] < "16:00" and r["timestamp"][17:] == "00"
    ]
    assert len(got) == len(want) > 100
    assert got.close.tolist() == [float(r["close"]) for r in want]


def test_an_unknown_symbol_is_named_and_nothing_is_written(
    emulator: EmulatorServer, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, emulator)
    code, out, err = bot("data", "fetch", "AAPL", "NOSUCH")
    assert code == 2
    assert "unknown symbol at the broker: NOSUCH" in err
    assert "Traceback" not in out + err
    assert BarStore(store_dir).datasets() == []  # AAPL neither: the names are checked first


def test_update_fetches_what_is_missing_and_replaces_the_revised_bar(
    market_dir: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = EmulatorState.from_dir(market_dir, AT_CLOSE, bars_page_size=50)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        _connect(monkeypatch, srv)
        assert bot("data", "fetch", "MSFT", "--from", "2026-01-02")[0] == 0
        csv_rows = _rows(market_dir / "MSFT_1d.csv")
        first = BarStore(store_dir).read("MSFT", "1d")
        want = _daily_until(csv_rows, date(2026, 2, 10), date(2026, 1, 2))
        # At 16:00 the free plan's SIP shows the day as it stood at 15:45: 375 of the
        # session's 390 minutes (the emulator's provisional bar), stored as served.
        assert len(first) == len(want)
        assert first.volume[-1] == math.floor(float(want[-1]["volume"]) * 375 / 390)
        state.advance(datetime(2026, 2, 19, 23, 0, tzinfo=UTC))  # 7 sessions later, evening
        code, out, err = bot("data", "update")
    assert code == 0, err
    got = BarStore(store_dir).read("MSFT", "1d")
    want = _daily_until(csv_rows, date(2026, 2, 19), date(2026, 1, 2))
    assert len(got) == len(want) == len(first) + 6  # 2026-02-16 was Presidents' Day
    assert got.close.tolist() == [float(r["close"]) for r in want]
    assert got.volume.tolist() == [float(r["volume"]) for r in want]
    assert "MSFT 1d: 6 new bar(s), 1 revised" in out


def test_without_keys_fetch_says_what_to_do(store_dir: Path) -> None:
    code, _, err = bot("data", "fetch", "AAPL")
    assert code == 2 and "ALPACA_API_KEY and ALPACA_SECRET_KEY are not set" in err


def test_import_list_export_round_trip_and_gaps(store_dir: Path, tmp_path: Path) -> None:
    rows = _rows(DAILY_CSV)
    # Two sessions taken out: a gap the list must report, never fill.
    holes = {"2025-03-04", "2025-03-05"}
    kept = [r for r in rows if r["timestamp"][:10] not in holes]
    src = _write(tmp_path / "XYZ_1d.csv", kept)
    code, out, err = bot("data", "import", str(src))
    assert code == 0, err
    assert f"XYZ 1d: {len(kept)} new bar(s)" in out
    assert "2 session(s) without bars: 2025-03-04, 2025-03-05" in out
    code, out, _ = bot("data", "list")
    assert code == 0 and "XYZ" in out and "2025-03-04" in out
    assert len(BarStore(store_dir).read("XYZ", "1d")) == len(kept)  # nothing invented
    dest = tmp_path / "out.csv"
    assert bot("data", "export", "XYZ", "--out", str(dest))[0] == 0
    back = _rows(dest)
    assert [r["timestamp"][:10] for r in back] == [r["timestamp"][:10] for r in kept]
    assert [float(r["close"]) for r in back] == [float(r["close"]) for r in kept]


def test_a_revised_bar_replaces_the_stored_one(store_dir: Path) -> None:
    store = BarStore(store_dir)
    ts = np.array([1_700_000_000 * 10**9 - (1_700_000_000 * 10**9) % 86_400_000_000_000], "int64")
    day = ts // 86_400_000_000_000

    def one(close: float) -> BarSeries:
        a = np.array([close])
        return BarSeries(ts, a, a + 1, a - 1, a, np.array([1000.0]), day, "1d", "t", "ABC")

    assert store.write(one(10.0)).added == 1
    w = store.write(one(11.0))
    assert (w.added, w.replaced, w.unchanged) == (0, 1, 0)
    assert store.read("ABC", "1d").close.tolist() == [11.0]


def test_a_damaged_store_file_is_refused_with_its_path(store_dir: Path) -> None:
    assert bot("data", "import", str(DAILY_CSV))[0] == 0
    victim = store_dir / "BABA" / "1d" / "2020.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the column data
    victim.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=str(victim)):
        BarStore(store_dir).read("BABA", "1d")
    code, out, err = bot("data", "list")
    assert code == 2 and str(victim) in err and "damaged store file" in err
    assert "Traceback" not in out + err
    victim.write_bytes(b"PAR1")  # truncated
    with pytest.raises(StoreError, match="damaged store file"):
        BarStore(store_dir).read("BABA", "1d")


_WRITER = """
import sys
from bot.data.load import load_csv
from bot.data.store import BarStore
bars = load_csv(sys.argv[1], symbol="BABA").bars
half = int(sys.argv[3])
rows = [i for i in range(len(bars)) if i % 2 == half]
import numpy as np
for k in range(0, len(rows), 200):  # many small writes, to interleave with the other writer
    BarStore(__import__("pathlib").Path(sys.argv[2])).write(bars.take(np.array(rows[k:k + 200])))
"""


def test_two_writers_at_once_lose_nothing(store_dir: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(DAILY_CSV), str(store_dir), str(half)],
            cwd=PROJECT_ROOT,
        )
        for half in (0, 1)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    got = BarStore(store_dir).read("BABA", "1d")
    want = _rows(DAILY_CSV)
    assert len(got) == len(want)
    assert got.close.tolist() == [float(r["close"]) for r in want]


def test_bad_symbols_are_refused_before_they_become_paths(store_dir: Path) -> None:
    with pytest.raises(DataError, match="not a stock symbol"):
        BarStore(store_dir).folder("../etc", "1d")


def test_commands_read_the_store_first_and_data_overrides_it(
    store_dir: Path, tmp_path: Path
) -> None:
    # The store holds BABA up to 2025-12-31 only: `bot signals` reads those bars, not the
    # bundled file's 2,872; --data names the file and reads it.
    rows = [r for r in _rows(DAILY_CSV) if r["timestamp"][:10] <= "2025-12-31"]
    assert bot("data", "import", str(_write(tmp_path / "BABA_1d.csv", rows)))[0] == 0
    code, out, err = bot("signals")
    assert code == 0, err
    assert f"Read {len(rows)} 1d bars from {store_dir / 'BABA' / '1d'}" in out
    code, out, err = bot("signals", "--data", str(DAILY_CSV))
    assert code == 0, err
    assert f"Read {len(_rows(DAILY_CSV))} 1d bars from {DAILY_CSV}" in out


def test_a_symbol_missing_from_the_store_falls_back_to_the_bundled_file_with_a_warning(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_SYMBOL", "AAPL")
    code, out, err = bot("signals")
    assert code == 0, err
    assert "looks like BABA bars, but the symbol is AAPL" in out + err
    assert "bot data fetch AAPL" in out + err


def test_a_sweep_without_a_file_reads_the_symbols_bars_from_the_store(
    store_dir: Path, tmp_path: Path, restore_root_logging: None
) -> None:
    # The store holds BABA up to 2021-12-31 only (1,829 bars less than the bundled file).
    rows = [r for r in _rows(DAILY_CSV) if r["timestamp"][:10] <= "2021-12-31"]
    assert bot("data", "import", str(_write(tmp_path / "BABA_1d.csv", rows)))[0] == 0
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        'objective = "sharpe"\n[data]\nfrom = 2019-01-02\nto = 2021-12-31\n'
        '[parameters]\n"strategy.confirm_closes" = [1, 2]\n'
        "[walk_forward]\ntrain_bars = 250\ntest_bars = 125\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, text, err = bot("sweep", str(spec), "--out", str(out), "--workers", "1")
    assert code in (0, 1), text + err  # 1: a losing choice, said (not a failure here)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert f"bars {store_dir / 'BABA' / '1d'} ({len(rows)} 1d bars)" in report + text
