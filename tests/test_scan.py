"""`bot scan UNIVERSE`: the universe file, each symbol's row (52-week peak, levels, recent
signals), symbols without data, symbols outside the watchlist, the CSV and HTML sorted
by distance to the peak, identical rows in-process, on a process pool and on a Dask
cluster, and Ctrl-C.

Expected figures are computed here by hand from data/BABA_1d.csv read with the csv
module (the 52-week peak: the highest high of the 252 sessions before the last bar), or
are facts of the bundled data the README states (the breakout of 163.43 confirmed on
2026-01-13). The synthetic symbols are BABA's bars scaled or cut short, put in a
temporary store.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import ConfigError, load_settings
from bot.data.load import load_csv
from bot.data.store import BarStore
from bot.scan.measure import NO_DATA, OK, ScanRow
from bot.scan.run import ScanInterrupted, ScanOptions, run_scan
from bot.scan.targets import settings_outside_watchlist, targets_for
from bot.scan.universe import UniverseError, read_universe
from bot.settings import Settings
from bot.watchlist import WatchlistError
from tests.conftest import DAILY_CSV, DEFAULT_TOML

Rows = list[dict[str, str]]
WATCHLIST = """
[watchlist.BABA]
levels = [{ price = 163.43, source = "resistance named in the 2026-01-12 article" }]

[watchlist.HALF]
levels = [70.0, { price = 90.0, note = "half of 180" }]
strategy = { peak_lookback_sessions = 100 }
"""


@pytest.fixture(scope="module")
def baba() -> Rows:
    with DAILY_CSV.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv("BOT_DATA__STORE", str(path))
    return path


def put(store: Path, symbol: str, rows: Rows, scale: float = 1.0) -> None:
    """`rows` (BABA's, maybe cut short) with prices x `scale`, as SYMBOL's bars in the
    store: through a CSV file and the loader, as `bot data import` reads one."""
    src = store.parent / "csv" / f"{symbol}_1d.csv"
    src.parent.mkdir(parents=True, exist_ok=True)
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow(r | {c: repr(float(r[c]) * scale) for c in ("open", "high", "low", "close")})
    BarStore(store).write(load_csv(src, False, symbol).bars)


def by_hand(rows: Rows, scale: float = 1.0, sessions: int = 252) -> tuple[float, str, float]:
    """(peak, its date, distance of the last close to it in %), from the csv rows: the
    highest high of the `sessions` rows before the last one (the first on ties)."""
    window = rows[-1 - sessions : -1]
    highs = [float(r["high"]) * scale for r in window]
    peak = max(highs)
    day = window[highs.index(peak)]["timestamp"]
    close = float(rows[-1]["close"]) * scale
    return peak, day, (close / peak - 1) * 100


def universe(tmp_path: Path, text: str, name: str = "universe.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def settings(tmp_path: Path, extra: str = "") -> Settings:
    path = tmp_path / "scan.toml"
    path.write_text(DEFAULT_TOML.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return load_settings(path)


def scan(
    tmp_path: Path, symbols: str, cfg: Settings | None = None, **opts: object
) -> list[ScanRow]:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    path = universe(tmp_path, symbols)
    options = ScanOptions(out=out, **{"workers": 1, **opts})  # type: ignore[arg-type]
    return run_scan(path, cfg or load_settings(DEFAULT_TOML), options).rows


def by_symbol(rows: Sequence[ScanRow]) -> dict[str, ScanRow]:
    return {r.symbol: r for r in rows}


# ---------------------------------------------------------------- the universe file


def test_the_universe_takes_whitespace_commas_comments_and_lower_case(tmp_path: Path) -> None:
    path = universe(tmp_path, "# my list\naapl, MSFT\n\n  BABA\tBRK.B,,MSFT  # again\nX-1\n")
    u = read_universe(path)
    assert u.symbols == ("AAPL", "MSFT", "BABA", "BRK.B", "X-1")
    assert u.repeated == ("MSFT",)


def test_bad_symbols_are_refused_with_file_and_line(tmp_path: Path) -> None:
    path = universe(tmp_path, "AAPL\nMSFT, A$B\n# fine\nGOOG 1ABC TOOLONGSYMBOL1\n")
    with pytest.raises(UniverseError) as exc:
        read_universe(path)
    text = str(exc.value)
    assert f"{path}: 3 bad symbol(s)" in text
    assert f"{path}:2: 'A$B' is not a stock symbol" in text
    assert f"{path}:4: '1ABC' is not a stock symbol" in text
    assert f"{path}:4: 'TOOLONGSYMBOL1' is not a stock symbol" in text
    assert "AAPL" not in text and "GOOG" not in text

    r = CliRunner().invoke(app, ["scan", str(path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert f"{path}:2: 'A$B'" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_an_empty_or_missing_universe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UniverseError, match="no symbols"):
        read_universe(universe(tmp_path, "# nothing yet\n\n"))
    with pytest.raises(UniverseError, match="no such universe file"):
        read_universe(tmp_path / "missing.txt")
    (tmp_path / "bin.txt").write_bytes(b"AAPL\n\xff\xfe\n")
    with pytest.raises(UniverseError, match="not UTF-8"):
        read_universe(tmp_path / "bin.txt")


# ---------------------------------------------------------------- symbols and their rules


def test_a_symbol_outside_the_watchlist_gets_the_tables_without_fixed_levels(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, WATCHLIST)
    with pytest.raises(WatchlistError):
        s.for_symbol("XYZ")  # trading still refuses it
    out = settings_outside_watchlist(s, "xyz")
    assert out.symbol == "XYZ"
    assert out.strategy.levels == []  # type: ignore[attr-defined]
    base = s.strategy.model_dump()
    assert {k: v for k, v in out.strategy.model_dump().items() if k != "levels"} == {
        k: v for k, v in base.items() if k != "levels"
    }
    assert out.risk == s.risk and out.watchlist == s.watchlist
    assert s.strategy.levels == [163.43]  # type: ignore[attr-defined]  # untouched

    targets = {t.symbol: t for t in targets_for(s, ["HALF", "XYZ", "BABA"])}
    assert [lv.price for lv in targets["HALF"].levels] == [70.0, 90.0]
    assert targets["HALF"].peak_sessions == 100 and targets["HALF"].watched
    assert targets["BABA"].levels[0].source == "resistance named in the 2026-01-12 article"
    assert targets["XYZ"].levels == () and not targets["XYZ"].watched
    assert targets["XYZ"].peak_sessions == 252


def test_outside_the_watchlist_a_strategy_that_needs_fixed_levels_is_refused(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, WATCHLIST)
    no_peak = s.strategy.model_copy(update={"use_52w_peak": False})
    s = s.model_copy(update={"strategy": no_peak})
    with pytest.raises(ConfigError, match=r"XYZ is not in the watchlist.*no level to watch"):
        settings_outside_watchlist(s, "XYZ")
    targets_for(s, ["BABA"])  # only symbols outside the list need it


def test_a_strategy_without_levels_keeps_its_table_outside_the_watchlist(tmp_path: Path) -> None:
    base = DEFAULT_TOML.read_text(encoding="utf-8")
    head, rest = base.split("[strategy]\n", 1)
    path = tmp_path / "avg.toml"
    table = '[strategy]\nname = "sma_cross"\nfast = 5\nslow = 20\n\n'
    path.write_text(head + table + rest[rest.index("[data]") :], encoding="utf-8")
    s = load_settings(path)
    assert settings_outside_watchlist(s, "XYZ").strategy == s.strategy


# ---------------------------------------------------------------- rows, by hand


def test_peak_and_distances_by_hand(tmp_path: Path, store: Path, baba: Rows) -> None:
    put(store, "BIG", baba, 1.5)
    rows = by_symbol(scan(tmp_path, "BABA BIG"))

    # BABA: no store dataset, so the bundled file (the config's own symbol).
    b = rows["BABA"]
    peak, day, dist = by_hand(baba)
    assert (b.status, b.bars, b.last_date) == (OK, 2872, "2026-02-20")
    assert b.last_close == float(baba[-1]["close"]) == 154.45
    assert b.peak == pytest.approx(peak) and b.peak_date == day == "2025-10-02"
    assert b.peak_distance_pct == pytest.approx(dist) and round(dist, 2) == -19.84
    assert [lv.price for lv in b.levels] == [163.43] and b.nearest_level == 163.43
    assert b.level_distance_pct == pytest.approx((154.45 / 163.43 - 1) * 100)
    assert b.watched and b.signals == () and b.note == ""

    big = rows["BIG"]
    peak, day, dist = by_hand(baba, 1.5)
    assert big.last_close == pytest.approx(154.45 * 1.5)
    assert big.peak == pytest.approx(peak) and big.peak_date == day
    assert big.peak_distance_pct == pytest.approx(dist)
    assert big.levels == () and big.nearest_level is None and not big.watched


def test_the_peak_window_is_the_252_sessions_before_the_last_bar(
    tmp_path: Path, store: Path, baba: Rows
) -> None:
    # Highs planted at both ends of the window and just outside it: the last bar's own
    # high (look-ahead) and the bar before the window must not count; the window's first
    # bar must.
    rows = [dict(r) for r in baba]
    rows[-1]["high"] = "1000.0"  # the last bar itself
    rows[-254]["high"] = "900.0"  # one session too early
    rows[-253]["high"] = "800.0"  # the first of the 252 sessions before the last bar
    put(store, "EDGE", rows)
    (edge,) = scan(tmp_path, "EDGE")
    assert by_hand(rows)[:2] == (800.0, rows[-253]["timestamp"])
    assert edge.peak == 800.0 and edge.peak_date == rows[-253]["timestamp"]
    assert edge.peak_distance_pct == pytest.approx((154.45 / 800.0 - 1) * 100)


def test_the_watchlist_gives_levels_sources_and_its_own_peak_window(
    tmp_path: Path, store: Path, baba: Rows
) -> None:
    put(store, "HALF", baba, 0.5)
    rows = by_symbol(scan(tmp_path, "HALF", settings(tmp_path, WATCHLIST)))
    half = rows["HALF"]
    peak, day, dist = by_hand(baba, 0.5, sessions=100)  # its own peak_lookback_sessions
    assert half.peak == pytest.approx(peak) and half.peak_date == day
    assert half.peak_distance_pct == pytest.approx(dist)
    close = 154.45 * 0.5  # 77.225: 70 is 10.3% away, 90 is 14.2% away
    assert half.nearest_level == 70.0
    assert half.level_distance_pct == pytest.approx((close / 70.0 - 1) * 100)
    assert [lv.note for lv in half.levels] == ["", "half of 180"]


def test_too_short_a_history_has_no_peak(tmp_path: Path, store: Path, baba: Rows) -> None:
    put(store, "NEW", baba[-200:])
    (new,) = scan(tmp_path, "NEW")
    assert new.status == OK and new.bars == 200 and new.peak is None
    assert new.peak_distance_pct is None
    assert "252 sessions before the last bar needed, 53 short" in new.note


def test_signals_of_the_last_n_bars(tmp_path: Path, store: Path, baba: Rows) -> None:
    # BABA's bars up to 2026-01-14 in the store: it wins over the bundled file.
    cut = [r for r in baba if r["timestamp"] <= "2026-01-14"]
    put(store, "BABA", cut)
    (row,) = scan(tmp_path, "BABA", bars=5)
    assert row.last_date == "2026-01-14" and row.bars == len(cut)
    assert [(s.when, s.kind) for s in row.signals] == [("2026-01-13", "breakout")]
    assert "resistance_163.43" in row.signals[0].label
    (row,) = scan(tmp_path, "BABA", bars=1)  # the last bar only: 2026-01-14
    assert row.signals == ()
    (row,) = scan(tmp_path, "BABA", bars=2)
    assert [s.when for s in row.signals] == ["2026-01-13"]


def test_a_symbol_without_data_is_a_row_and_the_scan_goes_on(
    tmp_path: Path, store: Path, baba: Rows
) -> None:
    put(store, "BIG", baba, 2.0)
    rows = scan(tmp_path, "NOPE BIG")
    assert [r.symbol for r in rows] == ["BIG", "NOPE"]  # no data: last
    nope = rows[1]
    assert nope.status == NO_DATA and nope.bars == 0 and nope.last_close is None
    assert f"no daily bars of NOPE in the store ({store})" in nope.note
    assert "bot data fetch NOPE" in nope.note


def test_a_bar_file_that_names_no_symbol_is_the_config_symbols_only(
    tmp_path: Path, store: Path
) -> None:
    plain = tmp_path / "bars.csv"
    plain.write_bytes(DAILY_CSV.read_bytes())
    s = load_settings(DEFAULT_TOML)
    s = s.model_copy(update={"data": s.data.model_copy(update={"path": str(plain)})})
    rows = by_symbol(scan(tmp_path, "BABA OTHER", s))
    assert rows["BABA"].status == OK and rows["BABA"].bars == 2872
    assert rows["OTHER"].status == NO_DATA and "bot data fetch OTHER" in rows["OTHER"].note


# ---------------------------------------------------------------- the files


def test_csv_and_html_are_written_sorted_by_distance_to_the_peak(
    tmp_path: Path, store: Path, baba: Rows
) -> None:
    ends = {"T0": 0, "T1": 25, "T2": 70, "T3": 160, "T4": 300}
    expected: dict[str, float] = {}
    for sym, k in ends.items():
        rows = baba[: len(baba) - k]
        put(store, sym, rows, 1.0 + k / 1000)
        expected[sym] = by_hand(rows, 1.0 + k / 1000)[2]
    assert len({round(abs(d), 3) for d in expected.values()}) == len(ends)
    order = sorted(expected, key=lambda s: abs(expected[s]))
    path = universe(tmp_path, "T4, T3, NOPE\nT2 T1 T0\n")
    out = tmp_path / "files"
    r = CliRunner().invoke(app, ["scan", str(path), "--out", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    with (out / "scan.csv").open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert [x["symbol"] for x in lines] == [*order, "NOPE"]
    for x in lines[:-1]:
        assert float(x["peak_distance_pct"]) == pytest.approx(expected[x["symbol"]], abs=1e-4)
        assert x["status"] == "ok" and x["rules"] == "[strategy], no levels"
    assert lines[-1]["status"] == "no data" and "bot data fetch NOPE" in lines[-1]["note"]

    page = (out / "scan.html").read_text(encoding="utf-8")
    at = [page.index(f'<td class="l">{sym}</td>') for sym in [*order, "NOPE"]]
    assert at == sorted(at)
    assert "<script" not in page and "http" not in page  # self-contained: nothing fetched
    assert page.count("<tr>") == 1 + 6

    assert "Nearest to the 52-week peak: 5 of 6 symbol(s)" in r.stdout
    assert "6 symbol(s) scanned in" in r.stdout and "2 local worker(s)" in r.stdout
    assert "1 symbol(s) without data: NOPE" in r.stdout
    assert str(out / "scan.csv") in r.stdout and str(out / "scan.html") in r.stdout
    shown = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("│ T")]
    assert shown == order


def test_bot_data_import_then_scan(tmp_path: Path, store: Path, baba: Rows) -> None:
    put(store, "TMP", baba)  # writes csv/TMP_1d.csv beside the store
    src = store.parent / "csv" / "TMP_1d.csv"
    runner = CliRunner()
    assert runner.invoke(app, ["data", "import", str(src), "--symbol", "IMP"]).exit_code == 0
    r = runner.invoke(app, ["scan", str(universe(tmp_path, "IMP")), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "-19.84" in r.stdout  # BABA's bars under another name


# ---------------------------------------------------------------- where it runs


def many(store: Path, baba: Rows) -> str:
    """A universe of a dozen stored symbols (one with a signal in its last bars) and two
    without data."""
    put(store, "BABA", [r for r in baba if r["timestamp"] <= "2026-01-15"])
    names = ["BABA", "NOPE"]
    for i in range(11):
        sym = f"S{i}"
        put(store, sym, baba[: len(baba) - 7 * i], 1 + i / 10)
        names.append(sym)
    return " ".join([*names, "ZZZ"])


def test_a_process_pool_gives_the_rows_of_one_process(
    tmp_path: Path, store: Path, baba: Rows
) -> None:
    text = many(store, baba)
    one = scan(tmp_path, text, workers=1)
    pool = scan(tmp_path, text, workers=3)
    assert pool == one and len(one) == 14
    assert by_symbol(one)["BABA"].signals  # not a trivial scan
    csvs = [p / "scan.csv" for p in sorted(tmp_path.glob("out-*"))]
    assert csvs[0].read_bytes() == csvs[1].read_bytes()


def test_the_kernel_and_the_strategy_objects_give_the_same_rows(
    tmp_path: Path, store: Path, baba: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = many(store, baba)
    monkeypatch.setenv("BOT_KERNEL_OFF", "1")  # as without numba: the strategy objects
    path = universe(tmp_path, text)
    plain = run_scan(path, load_settings(DEFAULT_TOML), ScanOptions(out=tmp_path / "p", workers=1))
    assert "signals by the strategy objects (BOT_KERNEL_OFF is set)" in plain.where
    monkeypatch.delenv("BOT_KERNEL_OFF")
    fast = run_scan(path, load_settings(DEFAULT_TOML), ScanOptions(out=tmp_path / "k", workers=1))
    if importlib.util.find_spec("numba") is not None:
        assert fast.where.endswith("signals by the compiled kernel")
    assert fast.rows == plain.rows and by_symbol(plain.rows)["BABA"].signals


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # None still takes :8787, which another process may hold
    ) as lc:
        yield str(lc.scheduler_address)


@pytest.mark.slow  # starts a two-process Dask cluster
def test_a_dask_cluster_gives_the_rows_of_a_local_run(
    tmp_path: Path, store: Path, baba: Rows, cluster: str
) -> None:
    text = many(store, baba)
    local = scan(tmp_path, text, workers=2)
    path = universe(tmp_path, text, "u2.txt")
    remote = run_scan(
        path, load_settings(DEFAULT_TOML), ScanOptions(out=tmp_path / "dask", scheduler=cluster)
    )
    assert remote.rows == local and len(local) == 14
    assert f"on the Dask cluster at {cluster}; signals by" in remote.where
    local_csv = next(tmp_path.glob("out-*")) / "scan.csv"
    assert (tmp_path / "dask" / "scan.csv").read_bytes() == local_csv.read_bytes()


def test_no_dask_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    path = universe(tmp_path, "BABA")
    r = CliRunner().invoke(app, ["scan", str(path), "--scheduler", "localhost:8786"])
    assert r.exit_code == 2 and "--scheduler must be an address like tcp://" in r.stderr


# ---------------------------------------------------------------- interrupts


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupt_writes_nothing(tmp_path: Path, store: Path, baba: Rows, workers: int) -> None:
    text = many(store, baba)
    out = tmp_path / "out"
    opts = ScanOptions(out=out, workers=workers, limit=1)
    with pytest.raises(ScanInterrupted, match="nothing was written") as exc:
        run_scan(universe(tmp_path, text), load_settings(DEFAULT_TOML), opts)
    assert exc.value.exit_code == 130
    assert not out.exists()


def _children(pid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                count += 1
    return count


@pytest.mark.slow  # starts the `bot` command and fills a store with 300 symbols
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_ctrl_c_ends_a_running_scan_cleanly(tmp_path: Path, store: Path, baba: Rows) -> None:
    names = []
    for i in range(300):
        put(store, f"C{i}", baba[-1000:], 1 + i / 1000)
        names.append(f"C{i}")
    path, out = universe(tmp_path, "\n".join(names)), tmp_path / "out"
    cmd = [sys.executable, "-m", "bot", "scan", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _children(proc.pid) < 2 and proc.poll() is None:
        time.sleep(0.01)  # until its two pool workers run
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "of 300 symbol(s) were scanned" in last
    assert "nothing was written" in last
    assert not (out / "scan.csv").exists() and not (out / "scan.html").exists()
