"""`bot study` and the base rates (bot/study): figures checked against hand computations.

The synthetic series is 30 daily closes around a level at 100, with the level strategy at
one confirming close, no buffers, no volume rule and no 52-week peak, so every close
through 100 is a signal: breakouts at bars 4, 11, 17, 27 and breakdowns at 8, 12, 26.
Highs are close + 0.5 and lows close - 0.5, except bar 15's wick to 100.2 (a cross up
the close does not confirm). Every expected figure below was worked out by hand from
this table; none is computed by the code under test.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.data.timeframe import Timeframe
from bot.models import ET, Bar, et_to_ns
from bot.settings import Settings
from bot.study.baserate import StudyData
from bot.study.events import Event, find_events
from bot.study.export import study_json
from bot.study.html import write_html
from bot.study.outcomes import measure
from bot.study.report import study_rows, study_table
from bot.study.run import run_study
from bot.study.stats import HorizonStats, bootstrap
from tests.conftest import make_bars, make_minute_bars, weekdays

LEVEL = 100.0
# index:  0   1   2   3    4    5    6    7   8   9  10   11  12  13  14  15  16   17   18
CLOSES = [95, 96, 97, 98, 101, 103, 104, 102, 99, 97, 98, 102, 99, 96, 95, 96, 97, 101, 105,
          108, 106, 110, 109, 107, 104, 102, 98, 101, 103, 104]  # fmt: skip
#         19   20   21   22   23   24   25  26   27   28   29
DAYS = weekdays(date(2024, 1, 2), len(CLOSES))


def bars_of(closes: Sequence[float], highs: Sequence[float] | None = None) -> BarSeries:
    hs = highs if highs is not None else [c + 0.5 for c in closes]
    return series(make_bars(closes, highs=hs))


def series(bars: list[Bar], timeframe: str = "1d") -> BarSeries:
    def col(k: int, dtype: type) -> np.ndarray:
        return np.array([b[k] for b in bars], dtype=dtype)

    f = np.float64
    return BarSeries(
        col(0, np.int64), col(1, f), col(2, f), col(3, f), col(4, f), col(5, f),
        col(6, np.int64), Timeframe(timeframe), "synthetic", "TEST",
    )  # fmt: skip


def synthetic() -> BarSeries:
    highs = [c + 0.5 for c in CLOSES]
    highs[15] = 100.2  # a wick to the level: an intraday cross up, no confirmation
    return bars_of(CLOSES, highs)


def make_settings(**study: object) -> Settings:
    cfg = {"horizons": [1, 3], "false_within": 2, "min_events": 2, "bootstrap": 200, "seed": 3}
    return load_settings(
        None,
        {
            "symbol": "TEST",
            "strategy": {
                "levels": [LEVEL],
                "use_52w_peak": False,
                "confirm_closes": 1,
                "volume_multiple": 0,
                "breakout_buffer_pct": 0,
                "breakdown_buffer_pct": 0,
            },
            "study": cfg | {"hold_bars": 2} | study,
        },
    )


def where(tier: str, events: list[Event]) -> list[int]:
    return [e.index for e in events if e.tier == tier]


# ---------------------------------------------------------------- events


def test_the_events_of_the_synthetic_series() -> None:
    events = find_events(make_settings(), synthetic())
    assert where("breakout", events) == [4, 11, 17, 27]
    assert where("breakdown", events) == [8, 12, 26]
    # The breakout of bar 11 closed back below 100 at bar 12 (1 bar later, within 2); the
    # breakdown of 26 back above at 27. The others held for their 2 bars.
    assert [(e.index, e.origin) for e in events if e.tier == "failed_breakout"] == [(12, 11)]
    assert [(e.index, e.origin) for e in events if e.tier == "failed_breakdown"] == [(27, 26)]
    # Previous close below 100, high >= 100: bar 15's wick too; above, low <= 100.
    assert where("crossed_up", events) == [4, 11, 15, 17, 27]
    assert where("crossed_down", events) == [8, 12, 26]
    assert all(e.minute_ts is None for e in events)  # no minute bars: read off daily bars
    assert {e.level for e in events} == {LEVEL}


def test_events_before_from_are_left_out_but_warm_up() -> None:
    events = find_events(make_settings(), synthetic(), start=10)
    assert where("breakout", events) == [11, 17, 27] and where("breakdown", events) == [12, 26]
    study = run_study(make_settings(), synthetic(), start=10, stop=25)
    assert study.bars == 15 and study.baseline.events == 15
    # Nothing after bar 24 is read: bar 17's breakout has its 3 bars, no later event exists.
    assert [e.index for t in study.tiers for e in t.events if t.tier == "breakout"] == [11, 17]
    assert study.baseline.horizons[1].n == 15 - 3


def test_failed_break_needs_the_close_back_within_false_within_bars() -> None:
    # Bar 11's breakout failed 1 bar later: with false_within = 1 it still does; the
    # breakdown of bar 8 came back above 100 only at bar 11, 3 bars later.
    events = find_events(make_settings(false_within=1), synthetic())
    assert where("failed_breakdown", events) == [27]
    events = find_events(make_settings(false_within=3), synthetic())
    assert where("failed_breakdown", events) == [11, 27]
    # The same window in the false-break rate: bar 8's breakdown is false at 3 bars.
    (bd,) = [t for t in run_study(make_settings(false_within=3), synthetic()).tiers
             if t.tier == "breakdown"]  # fmt: skip
    fb = bd.summary.false_breaks
    assert fb is not None and (fb.n, fb.false) == (3, 2)


def test_a_false_break_is_judged_on_the_closes_after_the_event() -> None:
    # An up event on bar 26 (close 98, below 100): its own close is an input; the close
    # after it (101) is above, so the break held for 1 bar.
    out = measure(synthetic(), [26], [True], [1], [LEVEL], 1)
    assert out.false_break is not None and out.false_break.tolist() == [0.0]


def test_a_signal_whose_tag_names_no_level_is_no_event(daily_series: BarSeries) -> None:
    # BABA's 52-week peak breakouts (2016-08-11, 2024-09-27) are signals of the default
    # strategy, about no fixed level: only the 163.43 ones are events.
    settings = load_settings(None).for_symbol("BABA")
    days = [
        datetime.fromtimestamp(e.ts / 1e9, ET).date().isoformat()
        for e in find_events(settings, daily_series)
        if e.tier == "breakout"
    ]
    assert days == ["2017-09-25", "2019-02-25", "2019-08-01", "2019-09-20", "2026-01-13"]


def test_minute_bars_time_the_crosses_of_the_days_they_cover() -> None:
    # Day 9 (previous close 99): its daily high 97.5 says no cross, its minutes went to 100.0
    # at 09:32. Day 15's daily high (100.2) says cross, its minutes never reached 100.
    minutes = series(
        make_minute_bars(
            [
                (DAYS[9], [99.0, 99.5, 98.0, 97.0], [99.2, 99.8, 100.0, 98.5]),
                (DAYS[15], [95.5, 96.0], [96.0, 96.5]),
                # From 101 (bar 17's close): a low to 99.3 at 09:31, back up at 09:32.
                (DAYS[18], [101.5, 99.8, 100.6], [102.0, 101.0, 101.0]),
            ]
        ),
        "1m",
    )
    events = find_events(make_settings(), synthetic(), minutes=minutes)
    ups = [(e.index, e.minute_ts) for e in events if e.tier == "crossed_up"]
    at = et_to_ns(datetime.combine(DAYS[9], time(9, 32), tzinfo=ET))
    minute = et_to_ns(datetime.combine(DAYS[18], time(9, 32), tzinfo=ET))
    assert ups == [(4, None), (9, at), (11, None), (17, None), (18, minute), (27, None)]
    downs = [(e.index, e.minute_ts) for e in events if e.tier == "crossed_down"]
    minute = et_to_ns(datetime.combine(DAYS[18], time(9, 31), tzinfo=ET))
    assert downs == [(8, None), (12, None), (18, minute), (26, None)]
    assert run_study(make_settings(), synthetic(), minutes=minutes).minute_days == 3


# ---------------------------------------------------------------- figures by hand


def test_breakout_figures_by_hand() -> None:
    study = run_study(make_settings(), synthetic())
    (bo,) = [t for t in study.tiers if t.tier == "breakout"]
    s = bo.summary
    assert s.events == 4
    h1, h3 = s.horizons
    # h=1: 103/101, 99/102, 105/101, 103/101 -> +1.980198, -2.941176, +3.960396, +1.980198
    assert (h1.n, h1.missing) == (4, 0)
    assert h1.mean is not None and h1.median is not None and h1.hit is not None
    assert h1.mean.value == pytest.approx(1.244904, abs=1e-5)
    assert h1.median.value == pytest.approx(1.980198, abs=1e-5)
    assert h1.hit.value == pytest.approx(75.0)
    # h=3: 102/101, 95/102, 106/101; bar 27 has only 2 bars after it: left out.
    assert (h3.n, h3.missing) == (3, 1)
    assert h3.mean is not None and h3.median is not None and h3.hit is not None
    assert h3.mean.value == pytest.approx(-0.307384, abs=1e-5)
    assert h3.median.value == pytest.approx(0.990099, abs=1e-5)
    assert h3.hit.value == pytest.approx(200 / 3, abs=1e-5)
    returns3 = bo.outcomes.returns[3]
    assert returns3[:3] == pytest.approx([0.990099, -6.862745, 4.950495], abs=1e-5)
    assert math.isnan(returns3[3])
    # False breaks: only bar 11's (99 at bar 12); 1 of 4.
    assert s.false_breaks is not None
    assert (s.false_breaks.n, s.false_breaks.false) == (4, 1)
    assert s.false_breaks.rate == pytest.approx(25.0)
    # Excursions over 3 bars: highest high / lowest low after the event vs its close.
    # bar 4: 104.5 and 101.5 vs 101; bar 11: 99.5 and 94.5 vs 102; bar 17: 108.5, 104.5 vs 101.
    x = s.excursions
    assert (x.n, x.missing) == (3, 1)
    assert bo.outcomes.mfe[:3] == pytest.approx([3.465347, -2.450980, 7.425743], abs=1e-5)
    assert bo.outcomes.mae[:3] == pytest.approx([0.495050, -7.352941, 3.465347], abs=1e-5)
    assert x.mfe_mean == pytest.approx(2.813370, abs=1e-5)
    assert x.mfe_median == pytest.approx(3.465347, abs=1e-5)
    assert x.mae_mean == pytest.approx(-1.130848, abs=1e-5)
    assert x.mae_median == pytest.approx(0.495050, abs=1e-5)


def test_breakdown_figures_are_signed_in_the_direction_of_the_break() -> None:
    study = run_study(make_settings(), synthetic())
    (bd,) = [t for t in study.tiers if t.tier == "breakdown"]
    # h=1: -(97/99-1), -(96/99-1), -(101/98-1): a fall is a gain for a breakdown.
    assert bd.outcomes.returns[1] == pytest.approx([2.020202, 3.030303, -3.061224], abs=1e-5)
    assert bd.outcomes.returns[3] == pytest.approx([-3.030303, 3.030303, -6.122449], abs=1e-5)
    h1, h3 = bd.summary.horizons
    assert h1.mean is not None and h1.hit is not None and h3.median is not None
    assert h1.mean.value == pytest.approx(0.663094, abs=1e-5)
    assert h1.hit.value == pytest.approx(200 / 3, abs=1e-5)
    assert h3.median.value == pytest.approx(-3.030303, abs=1e-5)
    fb = bd.summary.false_breaks
    assert fb is not None and (fb.n, fb.false) == (3, 1)  # bar 26: back above at 27
    # Favourable = the lowest low (96.5, 94.5, 100.5), adverse = the highest high (102.5,
    # 100.2 (bar 15's wick), 104.5), vs closes 99, 99, 98.
    assert bd.outcomes.mfe == pytest.approx([2.525253, 4.545455, -2.551020], abs=1e-5)
    assert bd.outcomes.mae == pytest.approx([-3.535354, -1.212121, -6.632653], abs=1e-5)


def test_cross_false_rate_and_the_baseline_by_hand() -> None:
    study = run_study(make_settings(), synthetic())
    (up,) = [t for t in study.tiers if t.tier == "crossed_up"]
    # Crosses 4, 11, 15, 17, 27: 11 (99 at 12) and 15 (97 at 16) closed back below.
    fb = up.summary.false_breaks
    assert fb is not None and (fb.n, fb.false) == (5, 2) and fb.rate == pytest.approx(40.0)
    (failed,) = [t for t in study.tiers if t.tier == "failed_breakout"]
    assert failed.summary.false_breaks is None  # a failure has no false-break rate
    # Every bar: 29 next-bar returns, 17 of them up (counted on the closes above).
    h1 = study.baseline.horizons[0]
    assert (study.baseline.events, h1.n, h1.missing) == (30, 29, 1)
    assert h1.hit is not None and h1.hit.value == pytest.approx(17 / 29 * 100)
    assert study.baseline.false_breaks is None


def test_too_few_events_gives_no_figure() -> None:
    study = run_study(make_settings(min_events=5), synthetic())
    tiers = {t.tier: t.summary for t in study.tiers}
    bo = tiers["breakout"]
    assert bo.too_few and bo.events == 4
    assert all(h.mean is None and h.median is None and h.hit is None for h in bo.horizons)
    assert bo.false_breaks is not None and bo.false_breaks.rate is None
    assert bo.excursions.mfe_mean is None
    # 5 crosses up: figures at 1 bar; at 3 bars only 4 have the bars after them.
    h1, h3 = tiers["crossed_up"].horizons
    assert h1.mean is not None and h3.mean is None and h3.n == 4
    console = Console(width=250, record=True)
    console.print(study_table(study))
    text = console.export_text()
    row = next(line for line in text.splitlines() if "confirmed breakout" in line)
    assert "too few events (4)" in row and "%" not in row
    narrow = Console(width=80, record=True)  # the same cells, stacked: nothing cut
    narrow.print(study_table(study))
    text = narrow.export_text()
    assert "too few events (4)" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = study_rows(study)
    k = next(k for k, r in enumerate(rows) if r[1] == "intraday cross up")
    assert rows[k][4:6] == ["1", _cell(h1)] and rows[k + 1][4:] == [
        "3",
        "too few events (4)",
        "",
        "",
        "",
    ]
    doc = json.loads(json.dumps(study_json(study)))
    jb = doc["levels"][0]["tiers"]["breakout"]
    assert jb["too_few"] is True and jb["horizons"][0]["mean"] is None
    assert jb["count"] == 4 and len(jb["events"]) == 4


def _cell(h: HorizonStats) -> str:
    assert h.mean is not None
    return f"{h.mean.value:+.2f} ({h.mean.low:+.2f}..{h.mean.high:+.2f})"


# ---------------------------------------------------------------- the bootstrap


def _percentile(xs: list[float], q: float) -> float:
    """numpy's default percentile (linear between the closest ranks), in plain Python."""
    xs = sorted(xs)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_bootstrap_intervals_match_a_plain_reimplementation() -> None:
    values = [1.98, -2.94, 3.96, 0.0, 0.99, -6.86, 4.95]  # 0.0 is no hit
    mean, median, hit = bootstrap(np.array(values), 500, 11)
    # The same draws: one generator from the seed, a row of n indices per resample.
    rows = np.random.default_rng(11).integers(0, len(values), size=(500, len(values))).tolist()
    samples = [[values[j] for j in row] for row in rows]
    means = [sum(s) / len(s) for s in samples]
    medians = [statistics.median(s) for s in samples]
    hits = [sum(v > 0 for v in s) / len(s) * 100 for s in samples]
    for est, draws in ((mean, means), (median, medians), (hit, hits)):
        assert est.low == pytest.approx(_percentile(draws, 2.5), abs=1e-9)
        assert est.high == pytest.approx(_percentile(draws, 97.5), abs=1e-9)
        assert est.low <= est.value <= est.high
    assert mean.value == pytest.approx(sum(values) / 7)
    assert median.value == 0.99 and hit.value == pytest.approx(400 / 7)


def test_bootstrap_is_seeded() -> None:
    values = np.array([1.98, -2.94, 3.96, 1.98, 0.99, -6.86, 4.95])
    assert bootstrap(values, 300, 5) == bootstrap(values, 300, 5)
    assert bootstrap(values, 300, 5) != bootstrap(values, 300, 6)
    a = run_study(make_settings(seed=5), synthetic())
    b = run_study(make_settings(seed=5), synthetic())
    assert study_json(a) == study_json(b)
    c = run_study(make_settings(seed=6), synthetic())
    assert study_json(a)["levels"] != study_json(c)["levels"]


# ---------------------------------------------------------------- no look-ahead


def wild_after(i: int, seed: int = 1) -> BarSeries:
    """The synthetic series with every bar after `i` replaced by wild values."""
    rng = np.random.default_rng(seed)
    closes = list(CLOSES[: i + 1]) + rng.uniform(50, 150, len(CLOSES) - i - 1).round(2).tolist()
    highs = [c + 0.5 for c in closes]
    if i >= 15:
        highs[15] = 100.2  # kept, as every bar up to i
    return bars_of(closes, highs)


def test_an_event_figures_use_only_the_bars_of_its_horizon() -> None:
    # Bar 4's breakout: horizons 1 and 3, false-break window 2: bars 5 to 7 only.
    base, wild = synthetic(), wild_after(4 + 3)
    a = measure(base, [4], [True], [1, 3], [LEVEL], 2)
    b = measure(wild, [4], [True], [1, 3], [LEVEL], 2)
    assert a.returns[1] == b.returns[1] and a.returns[3] == b.returns[3]
    assert a.mfe == b.mfe and a.mae == b.mae
    assert a.false_break is not None and b.false_break is not None
    assert a.false_break == b.false_break
    # One bar less kept: its 3-bar return changes.
    c = measure(wild_after(4 + 2), [4], [True], [1, 3], [LEVEL], 2)
    assert c.returns[3] != a.returns[3]


@pytest.mark.parametrize("i", [4, 11, 12, 17, 26])
def test_events_up_to_a_bar_do_not_depend_on_the_bars_after_it(i: int) -> None:
    settings = make_settings()
    before = [e for e in find_events(settings, synthetic()) if e.index <= i]
    after = [e for e in find_events(settings, wild_after(i)) if e.index <= i]
    assert after == before
    # ...while their outcomes do change.
    study_a = run_study(settings, synthetic())
    study_b = run_study(settings, wild_after(i))
    ra = [t.outcomes.returns[1][k] for t in study_a.tiers for k, e in enumerate(t.events)
          if e.index == i]  # fmt: skip
    rb = [t.outcomes.returns[1][k] for t in study_b.tiers for k, e in enumerate(t.events)
          if e.index == i]  # fmt: skip
    assert ra and ra != rb


@pytest.mark.parametrize("tier", ["breakout", "breakdown", "crossed_up", "crossed_down"])
@pytest.mark.parametrize("t", [13, 19, 28])
def test_a_base_rate_is_unchanged_by_the_bars_after_its_time(tier: str, t: int) -> None:
    settings = make_settings()
    bars = synthetic()
    at = int(bars.ts[t])
    a = StudyData.build(settings, "TEST", bars).base_rate(tier, LEVEL, at)  # type: ignore[arg-type]
    # Every bar from t on replaced: the alert's own bar included.
    b = StudyData.build(settings, "TEST", wild_after(t - 1)).base_rate(tier, LEVEL, at)  # type: ignore[arg-type]
    assert a is not None and b is not None and a == b


def test_base_rate_by_hand() -> None:
    data = StudyData.build(make_settings(), "TEST", synthetic())
    at19 = int(synthetic().ts[19])
    rate = data.base_rate("breakout", LEVEL, at19)
    # Breakouts 4 and 11 have their 2 bars after them closed before bar 19; 17 does not
    # (its bar 19 is the alert's own). Bar 6 closed 104 > 100: held; bar 13, 96: not.
    # Price changes +2.970297 (104/101) and -5.882353 (96/102): median -1.456028.
    assert rate is not None and rate.median is not None
    assert (rate.n, rate.held) == (2, 1)
    assert rate.median == pytest.approx(-1.456028, abs=1e-5)
    assert rate.ci is not None and rate.ci[0] <= rate.median <= rate.ci[1]
    sentence = rate.sentence()
    assert re.fullmatch(
        r"confirmed breakout, 1 close: 2 past cases on TEST, 1 held above the level 2 bars "
        r"later, median -1\.5% \(CI [-+]\d+\.\d\.\.[-+]\d+\.\d\)",
        sentence,
    ), sentence
    # An alert at 11:27 on bar 19's day knows no more than one at its start (bar 19 is
    # not closed); one on bar 20's day knows 17's outcome too.
    noon = et_to_ns(datetime.combine(DAYS[19], time(11, 27), tzinfo=ET))
    assert data.base_rate("breakout", LEVEL, noon) == rate
    later = data.base_rate("breakout", LEVEL, int(synthetic().ts[20]))
    assert later is not None and (later.n, later.held) == (3, 2)
    # Too few: no figure; a level the study does not know: None.
    few = StudyData.build(make_settings(min_events=3), "TEST", synthetic())
    rate3 = few.base_rate("breakout", LEVEL, at19)
    assert rate3 is not None and rate3.held is None and rate3.median is None
    assert rate3.sentence() == (
        "confirmed breakout, 1 close: too few events on TEST (2 past cases, 3 needed)"
    )
    assert data.base_rate("breakout", 123.0, at19) is None
    # Breakdowns 8 and 12 before bar 28 (26's outcome is bar 28 itself): closes 98 and 95
    # 2 bars later, both below 100; price changes -1.010101 and -4.040404.
    down = data.base_rate("breakdown", LEVEL, int(synthetic().ts[28]))
    assert down is not None and (down.n, down.held) == (2, 2)
    assert down.median == pytest.approx(-2.525253, abs=1e-5)
    assert down.sentence().startswith(
        "confirmed breakdown, 1 close: 2 past cases on TEST, 2 held below the level 2 bars "
        "later, median -2.5% (CI "
    )


# ---------------------------------------------------------------- the command


def test_html_report_embeds_plotly_once_for_several_levels(tmp_path: Path) -> None:
    settings = make_settings()
    settings.strategy.levels = [LEVEL, 105.0]  # type: ignore[attr-defined]
    study = run_study(settings, synthetic())
    page = write_html(study, tmp_path / "s.html").read_text(encoding="utf-8")
    assert page.count("plotly.js v") == 1 and page.count("Plotly.newPlot") == 2
    assert "TEST 100: distributions" in page and "TEST 105: distributions" in page
    assert "failed breakout, 1 (too few)" in page  # drawn, and labelled


def test_bot_study_on_baba(tmp_path: Path, restore_root_logging: None) -> None:
    runner = CliRunner()
    out = tmp_path / "study"
    r = runner.invoke(app, ["study", "--symbol", "BABA", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "confirmed breakout" in r.stdout and "too few events (5)" in r.stdout
    doc = json.loads((out / "study-BABA.json").read_text(encoding="utf-8"))
    html = (out / "study-BABA.html").read_text(encoding="utf-8")
    # Opens offline: plotly.js embedded (once), no script fetched from anywhere.
    assert "Plotly.newPlot" in html and "<script src=" not in html
    # (plotly.js itself holds URL strings in its code, e.g. map tiles: only tags count)
    external = re.search(r"<(?:script|link|img)\b[^>]*(?:src|href)=[\"']?https?:", html)
    assert external is None and html.count("plotly.js v") == 1
    (level,) = doc["levels"]
    assert level["level"] == 163.43
    # The confirmed events are the strategy's signals about 163.43, as `bot signals` has them.
    for args in ([], ["--from", "2018-01-01", "--to", "2021-12-31"]):
        r = runner.invoke(app, ["study", "--symbol", "BABA", "--out", str(out), *args])
        assert r.exit_code == 0, r.output
        doc = json.loads((out / "study-BABA.json").read_text(encoding="utf-8"))
        tiers = doc["levels"][0]["tiers"]
        sig = runner.invoke(app, ["signals", "--symbol", "BABA", "--format", "json", *args])
        assert sig.exit_code == 0, sig.output
        rows = [json.loads(line) for line in sig.stdout.splitlines() if line.startswith("{")]
        for kind in ("breakout", "breakdown"):
            mine = [
                x["time"] for x in rows if x["kind"] == kind and x["tag"] == "resistance_163.43"
            ]
            assert [e["time"] for e in tiers[kind]["events"]] == mine
            assert tiers[kind]["count"] == len(mine) > 0
