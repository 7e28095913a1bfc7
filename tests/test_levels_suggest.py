"""`bot levels suggest`: pivots, clusters, touches and strength on hand-made bars; no
look-ahead on the bundled BABA bars; the command's table, TOML snippet, JSON and chart.

Expected values are worked out by hand in the comments, or counted here with a plain loop
over the CSV rows (the touch rule of bot/levels/suggest.py), never by the code under test.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.levels.pivots import Pivot, find_pivots
from bot.levels.suggest import asof_index, cluster, suggest, touches
from bot.settings import LevelsConfig
from tests.conftest import DAILY_CSV, DEFAULT_TOML, make_bars

ASOF = "2026-01-09"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def series(highs: Sequence[float], lows: Sequence[float]) -> BarSeries:
    """Daily bars on weekdays from 2024-01-02 with these highs and lows (close: the middle)."""
    closes = [(h + lo) / 2 for h, lo in zip(highs, lows, strict=True)]
    bars = make_bars(closes, highs=highs, lows=lows)
    col = {name: np.array([getattr(b, name) for b in bars]) for name in bars[0]._fields[:7]}
    return BarSeries(
        col["ts"].astype("int64"),
        col["open"],
        col["high"],
        col["low"],
        col["close"],
        col["volume"],
        col["session"].astype("int64"),
        symbol="TEST",
    )


# ---------------------------------------------------------------- pivots

# 15 bars, k = 2. Swing highs (above the 2 highs before, at least the 2 after):
#   2 (13 > 10, 11; >= 12, 11), 5 (12.5 > 12, 11; >= 12.5, 11: the first of a flat top;
#   6 is not, 12.5 is not above 12.5), 10 (14 > 10, 11; >= 13, 14). 12 (14) is not: 14 is
#   not above bar 10's 14. Swing lows: 4 (10 < 12, 11; <= 11, 11.5), 8 (8 < 11.5, 10;
#   <= 10, 13). Bar 0's 9 is the lowest low but has no 2 bars before it.
P_HIGH = [10, 11, 13, 12, 11, 12.5, 12.5, 11, 10, 11, 14, 13, 14, 12, 11]
P_LOW = [9, 10, 12, 11, 10, 11, 11.5, 10, 8, 10, 13, 12, 13, 11, 10]


def test_pivots_by_hand() -> None:
    found = find_pivots(np.array(P_HIGH), np.array(P_LOW), 2, 14)
    assert [(p.index, p.kind) for p in found] == [
        (2, "high"),
        (4, "low"),
        (5, "high"),
        (8, "low"),
        (10, "high"),
    ]
    assert [p.price for p in found] == [13, 10, 12.5, 8, 14]


@pytest.mark.parametrize(
    ("i", "kind"), [(2, "high"), (4, "low"), (5, "high"), (8, "low"), (10, "high")]
)
def test_a_pivot_is_known_k_bars_after_it(i: int, kind: str) -> None:
    high, low = np.array(P_HIGH), np.array(P_LOW)
    before = find_pivots(high, low, 2, i + 2 - 1)
    at = find_pivots(high, low, 2, i + 2)
    assert (i, kind) not in [(p.index, p.kind) for p in before]
    assert (i, kind) in [(p.index, p.kind) for p in at]


def test_pivots_read_no_bar_after_t() -> None:
    high, low = np.array(P_HIGH, dtype=float), np.array(P_LOW, dtype=float)
    high[12:], low[12:] = 100.0, 0.5  # bar 10's swing high would not be a high any more
    assert find_pivots(high, low, 2, 11) == find_pivots(np.array(P_HIGH), np.array(P_LOW), 2, 11)
    assert 10 not in [p.index for p in find_pivots(high, low, 2, 14)]


# ---------------------------------------------------------------- clusters, touches


def test_clusters_are_anchored_at_their_lowest_pivot() -> None:
    piv = [Pivot(i, p, "high") for i, p in enumerate([100.8, 99.5, 103.0, 101.2, 100.0])]
    groups = [[p.price for p in g] for g in cluster(piv, 1.0)]
    # 99.5 * 1.01 = 100.495 takes 100.0, not 100.8; 100.8 * 1.01 = 101.808 takes 101.2.
    assert groups == [[99.5, 100.0], [100.8, 101.2], [103.0]]
    # No chaining: 100 -> 100.9 -> 101.8 are steps of < 1% each, but 101.8 is 1.8% above 100.
    stairs = [Pivot(i, p, "low") for i, p in enumerate([100.0, 100.9, 101.8])]
    assert [[p.price for p in g] for g in cluster(stairs, 1.0)] == [[100.0, 100.9], [101.8]]


def test_touches_count_runs_of_bars_at_the_level() -> None:
    # Level 100, 0.5 %: the band is 99.5 .. 100.5. Bars 1-2 meet it (one run), 3 does not
    # (high 99.4), 4 spans it (a run), 5 does not (low 100.6), 6 does (the last bar).
    high = np.array([99.0, 99.6, 100.2, 99.4, 102.0, 101.0, 101.0])
    low = np.array([98.0, 98.5, 99.8, 98.0, 98.0, 100.6, 100.4])
    tc = touches(high, low, 100.0, 0.5, t=6)
    assert (tc.count, tc.last) == (3, 6)
    # Each run weighs 0.5 ** (bars from its last bar to t / 63): runs end at 2, 4, 6.
    assert tc.weight == pytest.approx(0.5 ** (4 / 63) + 0.5 ** (2 / 63) + 1.0)
    assert touches(high, low, 100.0, 0.5, t=20).last == 20  # indices offset to end at t


# 12 bars, k = 1: swing highs 1 (105), 5 (105.6), 9 (104.8); swing lows 3 (95), 7 (95.4).
# With 1 %: levels (104.8 + 105 + 105.6) / 3 = 105.1333 -> 105.13 and (95 + 95.4) / 2 = 95.2.
# 105.13 +- 0.5 % = 104.60435 .. 105.65565: bars 1, 5, 9 -> 3 touches, last 9.
# 95.2 +- 0.5 % = 94.724 .. 95.676: bar 3, bars 6-7 (one run), bar 11 -> 3 touches, last 11.
S_HIGH = [100, 105, 103, 101, 104, 105.6, 102, 100, 103, 104.8, 101, 100]
S_LOW = [98, 101, 99, 95, 97, 102, 95.6, 95.4, 98, 100, 97, 95.5]


def test_suggest_by_hand() -> None:
    cfg = LevelsConfig(pivot_bars=1, cluster_pct=1.0, touch_pct=0.5, min_touches=3)
    s = suggest(series(S_HIGH, S_LOW), 11, cfg)
    got = [(lv.price, lv.kind, lv.touches.count, lv.touches.last) for lv in s.levels]
    assert got == [(105.13, "swing high", 3, 9), (95.2, "swing low", 3, 11)]
    h = 3 + 0.5 ** (10 / 63) + 0.5 ** (6 / 63) + 0.5 ** (2 / 63)  # pivots + runs ending 1, 5, 9
    lo = 2 + 0.5 ** (8 / 63) + 0.5 ** (4 / 63) + 1.0  # runs ending 3, 7, 11
    assert [lv.strength for lv in s.levels] == pytest.approx([h, lo])
    assert (s.pivots, s.candidates, s.kept) == (5, 2, 2)
    none = suggest(series(S_HIGH, S_LOW), 11, cfg.model_copy(update={"min_touches": 4}))
    assert none.levels == ()


def test_too_few_bars_is_a_clear_error() -> None:
    from bot.models import DataError

    with pytest.raises(DataError, match=r"at least 11"):
        suggest(series(S_HIGH, S_LOW), 9, LevelsConfig(pivot_bars=5))


# ---------------------------------------------------------------- no look-ahead


def wild_after(bars: BarSeries, t: int) -> BarSeries:
    """The bars with every one after t replaced by random prices up to 9x the highest high."""
    rng = np.random.default_rng(16)
    n = len(bars) - t - 1
    base = rng.uniform(1.0, 3.0 * float(bars.high.max()), n)
    cols = {c: getattr(bars, c).copy() for c in ("open", "high", "low", "close", "volume")}
    cols["low"][t + 1 :], cols["high"][t + 1 :] = base * 0.5, base * 3.0
    cols["open"][t + 1 :] = cols["close"][t + 1 :] = base
    cols["volume"][t + 1 :] = rng.uniform(0, 1e9, n)
    return replace(bars, **cols)


def test_bars_after_asof_change_nothing(daily_series: BarSeries) -> None:
    bars = daily_series
    t = asof_index(bars, date.fromisoformat(ASOF))
    assert str(np.datetime64(int(bars.session[t]), "D")) == ASOF
    wild = wild_after(bars, t)
    for cfg in (LevelsConfig(), LevelsConfig(round_numbers=True, top=200, min_touches=1)):
        honest, other = suggest(bars, t, cfg), suggest(wild, t, cfg)
        assert other.levels == honest.levels  # prices, kinds, pivots, touches, strengths
        counts = (other.pivots, other.candidates, other.kept)
        assert counts == (honest.pivots, honest.candidates, honest.kept)
    # ...while the wild bars do change the levels of a later date (they are wild enough).
    late = len(bars) - 1
    assert suggest(wild, late, LevelsConfig()).levels != suggest(bars, late, LevelsConfig()).levels


# ---------------------------------------------------------------- the command


def csv_rows_up_to(day: str) -> list[tuple[str, float, float]]:
    with DAILY_CSV.open(newline="", encoding="utf-8") as fh:
        rows = [
            (r["timestamp"][:10], float(r["high"]), float(r["low"])) for r in csv.DictReader(fh)
        ]
    return [r for r in rows if r[0] <= day]


def count_touches(
    rows: list[tuple[str, float, float]], price: float, pct: float
) -> tuple[int, str]:
    """Runs of consecutive rows whose high-low range meets price +- pct %; the last one's date."""
    count, last, previous = 0, "", False
    for day, high, low in rows:
        at = low <= price * (1 + pct / 100) and high >= price * (1 - pct / 100)
        if at and not previous:
            count += 1
        if at:
            last = day
        previous = at
    return count, last


def snippet_of(output: str) -> str:
    start = output.index("[watchlist.BABA]")
    end = output.index("\n]\n", start) + 3
    return output[start:end]


@pytest.fixture(scope="module")
def baba_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("levels")
    r = CliRunner().invoke(app, ["levels", "suggest", "BABA", "--asof", ASOF, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return r.output, out


def test_every_level_was_touched_twice_by_asof(baba_run: tuple[str, Path]) -> None:
    output, _ = baba_run
    cfg = tomllib.loads(DEFAULT_TOML.read_text())["levels"]
    assert cfg["min_touches"] == 2 and cfg["top"] == 10
    rows = csv_rows_up_to(ASOF)[-cfg["lookback_bars"] :]  # the window: the last 504 bars
    assert rows[-1][0] == ASOF and len(rows) == 504
    assert "rank" in output and "last touch" in output and "strength" in output
    levels = tomllib.loads(snippet_of(output))["watchlist"]["BABA"]["levels"]
    assert len(levels) == cfg["top"]
    for lv in levels:
        count, last = count_touches(rows, lv["price"], cfg["touch_pct"])
        assert count >= 2, lv
        assert f"touched {count} times, last {last}" == lv["note"]
        assert f"as of {ASOF}" in lv["source"]
        assert re.search(r"swing (high|low)s? \d{4}-\d\d-\d\d", lv["source"]), lv["source"]
        assert f"{lv['price']:,.2f}" in output  # the table's row


def test_the_snippet_pastes_into_a_config(baba_run: tuple[str, Path], tmp_path: Path) -> None:
    output, out = baba_run
    snippet = snippet_of(output)
    assert (out / "levels.toml").read_text().endswith(snippet)
    config = tmp_path / "watch.toml"
    config.write_text(DEFAULT_TOML.read_text() + "\n" + (out / "levels.toml").read_text())
    settings = load_settings(config)
    pasted = settings.levels_of("BABA")
    data = json.loads((out / "levels.json").read_text())
    assert [lv.price for lv in pasted] == [lv["price"] for lv in data["levels"]]
    assert [lv.source for lv in pasted] == [
        lv["source"] for lv in tomllib.loads(snippet)["watchlist"]["BABA"]["levels"]
    ]
    assert data["asof"] == ASOF and [lv["rank"] for lv in data["levels"]] == list(range(1, 11))


def test_the_json_agrees_with_the_csv(baba_run: tuple[str, Path]) -> None:
    """Each level's pivots are swings of the CSV rows known by the as-of date (checked with
    plain loops), and its price is their mean to the cent; levels come strongest first."""
    _, out = baba_run
    data = json.loads((out / "levels.json").read_text())
    k = data["settings"]["pivot_bars"]
    rows = csv_rows_up_to(ASOF)[-data["settings"]["lookback_bars"] :]
    assert data["window"] == {"from": rows[0][0], "bars": len(rows)}
    where = {day: i for i, (day, _, _) in enumerate(rows)}
    for lv in data["levels"]:
        for p in lv["pivots"]:
            i = where[p["date"]]
            assert k <= i <= len(rows) - 1 - k, p  # k bars each side, all by the as-of date
            col, sign = (1, 1) if p["kind"] == "high" else (2, -1)
            v = [sign * r[col] for r in rows]
            assert p["price"] == rows[i][col]
            assert all(v[i] > v[j] for j in range(i - k, i)), p
            assert all(v[i] >= v[j] for j in range(i + 1, i + k + 1)), p
        prices = [p["price"] for p in lv["pivots"]]
        assert lv["price"] == round(sum(prices) / len(prices), 2)
        kinds = {p["kind"] for p in lv["pivots"]}
        assert lv["kind"] == ("both" if len(kinds) == 2 else f"swing {kinds.pop()}")
    assert "both" in [lv["kind"] for lv in data["levels"]]  # 156.95: a high and a low
    strengths = [lv["strength"] for lv in data["levels"]]
    assert strengths == sorted(strengths, reverse=True)


def test_the_command_reads_no_bar_after_asof(
    baba_run: tuple[str, Path], daily_series: BarSeries, tmp_path: Path
) -> None:
    from bot.data.export import write_csv

    t = asof_index(daily_series, date.fromisoformat(ASOF))
    wild = tmp_path / "BABA_1d_wild.csv"
    write_csv(wild_after(daily_series, t), wild)
    args = ["levels", "suggest", "BABA", "--asof", ASOF, "--data", str(wild)]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    output, out = baba_run
    assert snippet_of(r.output) == snippet_of(output)
    assert (tmp_path / "out" / "levels.json").read_text() == (out / "levels.json").read_text()


def test_the_chart_is_a_png(baba_run: tuple[str, Path]) -> None:
    _, out = baba_run
    assert (out / "levels.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (out / "levels.png").stat().st_size > 10_000  # a drawing, not an empty canvas


def test_without_out_the_files_go_to_a_run_folder(in_tmp_dir: Path) -> None:
    r = CliRunner().invoke(app, ["levels", "suggest", "baba", "--asof", "2026-01-10"])
    assert r.exit_code == 0, r.output
    folder = Path("runs") / f"levels-BABA-{ASOF}"  # a Saturday: the last bar before it
    assert (in_tmp_dir / folder / "levels.png").read_bytes()[:8] == PNG_SIGNATURE
    assert str(folder) in r.output and "the last bar on or before it is 2026-01-09" in r.output


def test_round_numbers_are_added_and_labelled(tmp_path: Path) -> None:
    def run(*flags: str) -> list[dict[str, object]]:
        out = tmp_path / "-".join(flags)
        args = ["levels", "suggest", "BABA", "--asof", ASOF, "--top", "200", "--out", str(out)]
        r = CliRunner().invoke(app, [*args, *flags])
        assert r.exit_code == 0, r.output
        levels: list[dict[str, object]] = json.loads((out / "levels.json").read_text())["levels"]
        return levels

    plain, rounded = run("--no-round"), run("--round")
    assert not [lv for lv in plain if lv["kind"] == "round"]
    added = [lv for lv in rounded if lv["kind"] == "round"]
    assert 150.0 in [lv["price"] for lv in added]  # BABA closed at 150.96 that day
    for lv in added:
        assert float(str(lv["price"])) % 10 == 0 and lv["pivots"] == []
        assert int(str(lv["touches"])) >= 2
    assert [lv for lv in rounded if lv["kind"] != "round"] == [
        {**lv, "rank": lv2["rank"]}
        for lv, lv2 in zip(plain, [x for x in rounded if x["kind"] != "round"], strict=True)
    ]  # the swing levels are the same ones, ranked among the round numbers


@pytest.mark.parametrize("asof", ["2026-13-01", "friday", "2001-01-01"])
def test_a_bad_asof_is_named(asof: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["levels", "suggest", "BABA", "--asof", asof, "--out", str(tmp_path)]
    )
    assert r.exit_code == 2
    assert f"--asof {asof}" in r.stderr.replace("'", "") and "Traceback" not in r.output
    assert not list(tmp_path.iterdir())
