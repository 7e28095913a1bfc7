"""The chart of a real BABA backtest: the figure's traces, the HTML file that embeds it,
the PNG, and the downsampling of long runs; the signals not acted on (refused by risk,
filtered by the rules), the volume and RSI/ADX panels and the hidden days."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.engine.backtest import BacktestResult, run_backtest
from bot.engine.core import EngineRecord
from bot.report.chart import MAX_POINTS, build_figure, write_chart

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "data" / "BABA_1d.csv"
BASE = {"risk": {"sizing": "fixed_shares"}, "broker": {"slippage_bps": 0}}


def _run(
    extra: dict[str, Any] | None = None, start: str | None = None, stop: str | None = None
) -> BacktestResult:
    s = load_settings(None, {**BASE, **(extra or {})})
    bars = load_csv(CSV).bars
    lo = bars.index_of(start) if start else 0
    return run_backtest(s, bars, lo, bars.index_of(stop) if stop else None)


@pytest.fixture
def baba() -> BacktestResult:
    # Function scope (a backtest takes milliseconds) so conftest's BOT_* cleanup applies.
    return _run()


def _trace(fig: Any, name: str) -> Any:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, f"expected one trace named {name!r}, got {len(found)}"
    return found[0]


def _peak_by_pandas(day: str, n: int = 252) -> float:
    """Max high of the n daily sessions before `day` (the bar itself excluded)."""
    df = pd.read_csv(CSV, index_col="timestamp")
    i = df.index.get_loc(day)
    assert isinstance(i, int)
    return float(df["high"].iloc[i - n : i].max())


def test_figure_levels_peak_and_trades(baba: BacktestResult) -> None:
    fig = build_figure(baba)
    level = _trace(fig, "resistance 163.43")
    assert list(level.y) == [163.43] * len(level.y) and len(level.y) >= 2

    peak = _trace(fig, "52-week peak")
    x = np.asarray(peak.x, dtype="datetime64[ns]")
    at = np.flatnonzero(x == np.datetime64("2026-01-13T00:00"))
    assert len(at) == 1
    assert peak.y[at[0]] == _peak_by_pandas("2026-01-13")
    assert peak.y[at[0]] == 192.67  # the 2025-10-02 high
    # 2025-10-02 made that high itself; the peak as of that bar must not include it.
    new_high = np.flatnonzero(x == np.datetime64("2025-10-02T00:00"))[0]
    assert peak.y[new_high] == _peak_by_pandas("2025-10-02") == 183.08
    assert len(peak.y) == len(baba.bars)
    assert np.isnan(peak.y[0])  # no 52-week peak before a year of history

    entries = _trace(fig, "entries")
    marks = list(zip(entries.x, entries.y, entries.hovertext, strict=True))
    hit = [m for m in marks if m[0] == datetime(2026, 1, 14) and m[1] == 171.57]
    assert len(hit) == 1
    assert "166.31, 167.01" in hit[0][2]
    assert entries.marker.symbol == "triangle-up"

    exits = _trace(fig, "exits")
    assert (datetime(2026, 2, 6), 160.46) in set(zip(exits.x, exits.y, strict=True))
    assert exits.marker.symbol == "triangle-down"

    candles = _trace(fig, "price")
    assert candles.type == "candlestick" and len(candles.x) == len(baba.bars)
    assert _trace(fig, "volume").yaxis == "y2"  # right under the price
    assert _trace(fig, "equity").yaxis == "y3"
    dd = _trace(fig, "drawdown %")
    assert dd.yaxis == "y4" and float(np.min(dd.y)) < 0 and float(np.max(dd.y)) == 0.0


def test_peak_is_warmed_on_bars_before_the_traded_range() -> None:
    result = _run(start="2025-01-02")
    peak = _trace(build_figure(result), "52-week peak")
    assert len(peak.y) == len(result.bars)  # only the traded range is drawn
    assert np.asarray(peak.x, dtype="datetime64[ns]")[0] == np.datetime64("2025-01-02T00:00")
    assert peak.y[0] == _peak_by_pandas("2025-01-02")


def test_a_position_open_at_the_end_still_has_its_entry_marker() -> None:
    result = _run(stop="2026-02-01")  # bought 2026-01-14, sold only on 2026-02-06
    assert result.position[-1] == 100
    fig = build_figure(result)
    entries = _trace(fig, "entries")
    assert entries.x[-1] == datetime(2026, 1, 14) and entries.y[-1] == 171.57
    assert "166.31, 167.01" in entries.hovertext[-1]
    assert entries.hovertext[-1].endswith("(still open)")
    assert len(entries.x) == len(_trace(fig, "exits").x) + 1


def test_no_peak_line_without_the_peak_level() -> None:
    result = _run({"strategy": {"use_52w_peak": False}})
    names = [t.name for t in build_figure(result).data]
    assert "52-week peak" not in names
    assert "resistance 163.43" in names


def _newplot_args(html: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The data and layout arguments of the Plotly.newPlot("id", [traces], {layout}) call."""
    start = html.rindex("Plotly.newPlot(") + len("Plotly.newPlot(")
    dec = json.JSONDecoder()
    args: list[Any] = []
    pos = start
    for _ in range(3):  # the div id, the traces, the layout
        pos += len(html[pos:]) - len(html[pos:].lstrip())
        value, pos = dec.raw_decode(html, pos)
        args.append(value)
        pos = html.index(",", pos) + 1
    _, data, layout = args
    assert isinstance(data, list) and isinstance(layout, dict)
    return data, layout


def _newplot_data(html: str) -> list[dict[str, Any]]:
    return _newplot_args(html)[0]


def _values(v: Any) -> list[Any]:
    """A plotly JSON array: a plain list or base64 typed data {"dtype", "bdata"}."""
    if isinstance(v, dict):
        return list(np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]))
    return list(v)


def test_html_file_embeds_plotly_and_the_figure(baba: BacktestResult, tmp_path: Path) -> None:
    html_path = tmp_path / "chart.html"
    write_chart(baba, html_path)
    html = html_path.read_text(encoding="utf-8")
    # Works offline: no script is loaded from elsewhere (plotly.js mentions its CDN only as
    # the default address of map outlines, which this chart does not use).
    assert "<script src=" not in html and '<script type="text/javascript" src=' not in html
    assert len(html) > 1_000_000  # plotly.js itself is inside
    for text in ("resistance 163.43", "52-week peak", "entries", "exits", "171.57", "163.43"):
        assert text in html

    traces = {t["name"]: t for t in _newplot_data(html)}
    assert _values(traces["resistance 163.43"]["y"]) == [163.43, 163.43]
    entries = traces["entries"]
    i = _values(entries["x"]).index("2026-01-14T00:00:00")
    assert _values(entries["y"])[i] == 171.57
    assert "166.31, 167.01" in entries["hovertext"][i]
    exits = traces["exits"]
    assert _values(exits["y"])[_values(exits["x"]).index("2026-02-06T00:00:00")] == 160.46
    assert len(_values(traces["price"]["close"])) == len(baba.bars)


def test_png_has_the_png_signature(baba: BacktestResult, tmp_path: Path) -> None:
    html_path, png_path = tmp_path / "c.html", tmp_path / "c.png"
    write_chart(baba, html_path, png_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert html_path.exists()
    write_chart(baba, tmp_path / "only.html")
    assert not (tmp_path / "only.png").exists()


def _synthetic(n: int) -> BacktestResult:
    """n consecutive one-minute bars (nights too: only the bucketing is under test), with
    rising closes and highs that jump around inside each bucket."""
    t0 = pd.Timestamp("2024-01-02 09:30", tz="America/New_York").value
    ts = t0 + np.arange(n, dtype="int64") * 60_000_000_000
    i = np.arange(n, dtype="float64")
    close = 100.0 + i / 1000
    bars = BarSeries(
        ts, close, close + 1 + (i % 7), close - 1, close, np.full(n, 1e3),
        np.full(n, 19724, dtype="int64"), "1m", "synthetic",
    )  # fmt: skip
    s = load_settings(None, {**BASE, "strategy": {"use_52w_peak": False}})
    equity = 1e5 - i / 100  # steadily falling: drawdown deepest at the end
    return BacktestResult(s, bars, equity, np.zeros(n), EngineRecord(), [], 1e5, 0, bars)


def test_long_runs_are_drawn_in_buckets() -> None:
    n = 50_000
    result = _synthetic(n)
    fig = build_figure(result)
    candles = _trace(fig, "price")
    # ceil(50,000 / 20,000) = 3 bars per candle -> ceil(50,000 / 3) = 16,667 candles.
    assert len(candles.x) == 16_667 <= MAX_POINTS
    hi = result.bars.high
    assert candles.high[0] == max(hi[0], hi[1], hi[2])
    assert candles.low[0] == result.bars.low[0]  # lows rise bar by bar
    assert candles.open[1] == result.bars.open[3]
    assert candles.close[0] == result.bars.close[2]
    assert candles.close[-1] == result.bars.close[-1]  # last bucket has 2 bars: 49,998..
    assert float(np.max(candles.high)) == float(hi.max())
    dd = _trace(fig, "drawdown %")
    assert dd.y[-1] == pytest.approx(-(n - 1) / 100 / 1e5 * 100)  # -0.49999%
    assert "3 bars" in fig.layout.title.text


def test_runs_up_to_the_limit_are_drawn_bar_by_bar() -> None:
    fig = build_figure(_synthetic(MAX_POINTS))
    assert len(_trace(fig, "price").x) == MAX_POINTS


# ---------------------------------------------------------------- signals not acted on


def _csv() -> pd.DataFrame:
    return pd.read_csv(CSV, index_col="timestamp")


def _vol_ratio(df: pd.DataFrame, day: str, n: int = 20) -> float:
    """Volume of `day` / mean volume of the n bars before it (the volume rule's ratio)."""
    i = df.index.get_loc(day)
    assert isinstance(i, int)
    return float(df["volume"].iloc[i] / df["volume"].iloc[i - n : i].mean())


def _marks(fig: Any, name: str) -> dict[datetime, list[tuple[float, str]]]:
    trace = _trace(fig, name)
    out: dict[datetime, list[tuple[float, str]]] = {}
    for x, y, text in zip(trace.x, trace.y, trace.hovertext, strict=True):
        out.setdefault(x, []).append((y, text))
    return out


def test_the_volume_rule_holding_back_the_september_2025_breakout_is_marked(
    baba: BacktestResult,
) -> None:
    """By hand from data/BABA_1d.csv: the threshold is 163.43 x 1.01 = 165.0643. The
    2025-09-24 close 176.44 goes through it (the 2025-09-23 close 163.08 did not): one
    close, two needed. Its volume 52,642,300 is 2.03x the mean of the 20 bars before, so
    that bar alone would have passed the volume rule. The 2025-09-25 close 175.47 is the
    second close above: confirmed, but its volume 20,712,200 is 0.73x the mean of the 20
    bars before (28,185,960; 2025-09-24 included) < 1.5x -> held back, no signal."""
    df = _csv()
    threshold = 163.43 * 1.01
    assert df.loc["2025-09-23", "close"] <= threshold < df.loc["2025-09-24", "close"]
    assert df.loc["2025-09-25", "close"] > threshold
    assert _vol_ratio(df, "2025-09-24") >= 1.5
    ratio = _vol_ratio(df, "2025-09-25")
    assert ratio == pytest.approx(20_712_200 / 28_185_960) and ratio < 1.5
    fig = build_figure(baba)
    at = _marks(fig, "filtered")[datetime(2025, 9, 25)]
    hits = [(y, t) for y, t in at if t.startswith("breakout resistance_163.43")]
    assert len(hits) == 1
    y, text = hits[0]
    assert y == 175.47
    assert f"volume {ratio:.2f}x the 20-bar mean < 1.5x" in text
    assert "2 closes above 163.43 +1%: 176.44, 175.47" in text
    # the rule: no signal on those days
    days = {s.ts for s in baba.record.signals}
    assert not days & {
        int(baba.bars.ts[baba.bars.index_of(d)]) for d in ("2025-09-24", "2025-09-25")
    }


def test_2025_09_24_through_the_52_week_peak_is_one_close_only(baba: BacktestResult) -> None:
    """2025-09-24: 176.44 > peak 167.83 x 1.01 (the peak of the 252 sessions before); the
    next close 175.47 is not above its own bar's peak 180.16 x 1.01 (2025-09-24's high
    joined the window): confirm_closes = 2 not met."""
    df = _csv()
    peak_24, peak_25 = _peak_by_pandas("2025-09-24"), _peak_by_pandas("2025-09-25")
    assert (peak_24, peak_25) == (167.83, 180.16)
    assert df.loc["2025-09-24", "close"] > peak_24 * 1.01
    assert df.loc["2025-09-25", "close"] <= peak_25 * 1.01
    at = _marks(build_figure(baba), "filtered")[datetime(2025, 9, 24)]
    (hit,) = [(y, t) for y, t in at if t.startswith("breakout peak_52w")]
    assert hit[0] == 176.44
    assert "1 close above the 52-week peak 167.83 +1% (176.44), 2 needed" in hit[1]
    assert "the next close 175.47 was not (peak then 180.16)" in hit[1]


def test_every_filtered_163_breakout_from_september_2025_to_the_january_signal(
    baba: BacktestResult,
) -> None:
    """The level 163.43 is BELOW from the 2021-08-20 breakdown to the 2026-01-13 breakout.
    With pandas: a bar t in that span is a held-back breakout when closes t-1 and t are
    above 165.0643 and volume t < 1.5 x the mean of the 20 bars before; a one-close run
    (t above, t-1 and t+1 not) is an unconfirmed one, marked at t."""
    df = _csv()
    above = df["close"] > 163.43 * 1.01
    ratio = df["volume"] / df["volume"].rolling(20).mean().shift(1)
    held = above & above.shift(1, fill_value=False) & (ratio < 1.5)
    lone = above & ~above.shift(1, fill_value=False) & ~above.shift(-1, fill_value=False)
    span = (df.index >= "2025-09-01") & (df.index < "2026-01-13")
    expected = {
        (datetime.fromisoformat(d), "held back" if held[d] else "not confirmed")
        for d in df.index[span & (held | lone)]
    }
    assert len(expected) > 20
    got = {
        (x, text.split(": ")[1].split(":")[0])
        for x, marks in _marks(build_figure(baba), "filtered").items()
        for _, text in marks
        if text.startswith("breakout resistance_163.43")
        and datetime(2025, 9, 1) <= x < datetime(2026, 1, 13)
    }
    assert got == expected


def test_refused_signals_are_marked_with_the_risk_reason(baba: BacktestResult) -> None:
    """2017-09-25: closes 178.14 (09-22) and 169.59 > 165.0643 and volume 34,033,700 =
    1.88x the 20-bar mean -> a breakout of 163.43; but the account is long since the
    2016-08-12 entry on the 52-week peak (sold 2022-03-16): one position at a time."""
    df = _csv()
    assert min(df.loc["2017-09-22", "close"], df.loc["2017-09-25", "close"]) > 163.43 * 1.01
    assert _vol_ratio(df, "2017-09-25") >= 1.5
    first = baba.trades[0]
    assert (first.entry_time.date().isoformat(), first.exit_time.date().isoformat()) == (
        "2016-08-12",
        "2022-03-16",
    )
    fig = build_figure(baba)
    refused = _marks(fig, "refused")
    (hit,) = refused[datetime(2017, 9, 25)]
    assert hit[0] == df.loc["2017-09-25", "close"]
    assert hit[1].startswith("breakout resistance_163.43: already long (opened on peak_52w)")
    assert len(refused) == len(baba.record.rejections) == 8
    assert _trace(fig, "refused").marker.symbol[0] == "x"


# ---------------------------------------------------------------- volume and filter panels


def test_volume_panel_and_threshold_line(baba: BacktestResult) -> None:
    df = _csv()
    fig = build_figure(baba)
    vol = _trace(fig, "volume")
    assert vol.type == "bar" and vol.yaxis == "y2"
    np.testing.assert_array_equal(np.asarray(vol.y, dtype=float), df["volume"].to_numpy())
    line = _trace(fig, "volume threshold")
    expected = 1.5 * df["volume"].rolling(20).mean().shift(1)
    np.testing.assert_allclose(np.asarray(line.y, dtype=float), expected.to_numpy(), rtol=1e-12)
    x = np.asarray(line.x, dtype="datetime64[ns]")
    at = np.flatnonzero(x == np.datetime64("2025-09-25T00:00"))[0]
    assert line.y[at] == pytest.approx(1.5 * 28_185_960)  # mean of 2025-08-27 .. 2025-09-24
    assert np.isnan(line.y[19]) and not np.isnan(line.y[20])  # 20 bars before bar 20
    assert "RSI" not in [t.name for t in fig.data]


def test_no_threshold_line_without_the_volume_rule() -> None:
    names = [t.name for t in build_figure(_run({"strategy": {"volume_multiple": 0}})).data]
    assert "volume" in names and "volume threshold" not in names


def _rsi_by_pandas(close: pd.Series, n: int) -> pd.Series:
    """Wilder's RSI: EMA (alpha 1/n, no adjustment) of gains and losses, from bar n."""
    diff = close.diff()
    up = diff.clip(lower=0).fillna(0.0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    dn = (-diff).clip(lower=0).fillna(0.0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    return 100 - 100 / (1 + up / dn)


def test_rsi_panel_when_the_rsi_filter_is_on() -> None:
    result = _run({"strategy": {"rsi_filter": True, "rsi_period": 14, "rsi_max": 70}})
    fig = build_figure(result)
    rsi = _trace(fig, "RSI")
    expected = _rsi_by_pandas(_csv()["close"], 14).to_numpy()
    got = np.asarray(rsi.y, dtype=float)
    assert np.isnan(got[:13]).all() and not np.isnan(got[13])  # RSI(14) from bar 13
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert list(_trace(fig, "RSI limit").y) == [70, 70]
    assert rsi.yaxis == _trace(fig, "RSI limit").yaxis == "y3"
    assert fig.layout.yaxis3.range == (0, 100)
    assert _trace(fig, "equity").yaxis == "y4"
    assert "ADX" not in [t.name for t in fig.data]


def test_adx_panel_when_the_adx_filter_is_on(tmp_path: Path) -> None:
    result = _run({"strategy": {"adx_filter": True, "adx_period": 10, "adx_min": 25}})
    fig = build_figure(result)
    adx = np.asarray(_trace(fig, "ADX").y, dtype=float)
    assert np.isnan(adx[:19]).all()  # ADX(10) exists from bar 2 x 10 - 1 = 19
    assert ((adx[19:] >= 0) & (adx[19:] <= 100)).all()
    assert list(_trace(fig, "ADX limit").y) == [25, 25]
    # the filter holds breakouts back: some filtered marks say so, with ADX <= 25
    texts = [t for t in _trace(fig, "filtered").hovertext if "ADX" in t]
    assert texts and all("<= 25" in t for t in texts)
    write_chart(result, tmp_path / "c.html", tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- hidden days


def test_weekends_and_holidays_are_hidden(baba: BacktestResult, tmp_path: Path) -> None:
    html_path = tmp_path / "chart.html"
    write_chart(baba, html_path)
    data, layout = _newplot_args(html_path.read_text(encoding="utf-8"))
    breaks = layout["xaxis"]["rangebreaks"]
    assert {"bounds": ["sat", "mon"]} in breaks
    (values,) = [b["values"] for b in breaks if "values" in b]
    # NYSE holidays (and the 2025-01-09 day of mourning) have no bar; 2025-12-24 (a half
    # day) and ordinary weekdays have one.
    for day in ("2025-01-09", "2025-07-04", "2025-12-25", "2026-01-19", "2014-11-27"):
        assert day in values
    df = _csv()
    assert "2025-12-24" in df.index and "2025-12-24" not in values
    assert all(pd.Timestamp(v).weekday() < 5 and v not in df.index for v in values)
    # every x axis (panels share it) hides the same days
    assert all(layout[k].get("rangebreaks") == breaks for k in layout if k.startswith("xaxis"))
    # the filtered marks are in the file with their reasons
    filtered = next(t for t in data if t["name"] == "filtered")
    i = _values(filtered["x"]).index("2025-09-25T00:00:00")
    assert "volume 0.73x the 20-bar mean < 1.5x" in filtered["hovertext"][i]
