"""The chart of a real BABA backtest: the figure's traces, the HTML file that embeds it,
the PNG, and the downsampling of long runs."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.backtest import BacktestResult, run_backtest
from bot.chart import MAX_POINTS, build_figure, write_chart
from bot.data import BarSeries, load_csv
from bot.engine import EngineRecord
from bot.settings import load_settings

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
    assert _trace(fig, "equity").yaxis == "y2"
    dd = _trace(fig, "drawdown %")
    assert dd.yaxis == "y3" and float(np.min(dd.y)) < 0 and float(np.max(dd.y)) == 0.0


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


def _newplot_data(html: str) -> list[dict[str, Any]]:
    """The data argument of the Plotly.newPlot("id", [traces], {layout}) call."""
    start = html.rindex("Plotly.newPlot(") + len("Plotly.newPlot(")
    dec = json.JSONDecoder()
    pos = start + len(html[start:]) - len(html[start:].lstrip())
    _, pos = dec.raw_decode(html, pos)  # the div id
    pos = html.index(",", pos) + 1
    pos += len(html[pos:]) - len(html[pos:].lstrip())
    data, _ = dec.raw_decode(html, pos)
    assert isinstance(data, list)
    return data


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
