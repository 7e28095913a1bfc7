"""The PNG attached to a level alert (bot/alerts/chart.py): a real PNG of the right size,
the level line and the marked bar where they belong (found by their colours), the
volume panel, the ET tick labels, the atomic write, and no pyplot.

Expectations come from the hand-built bars (the level 100.0 is crossed at bar 20, the
only volume spike is at bar 20), not from the code's output: positions are checked by
order and by proportion (the axes map data to pixels linearly), never by pixel values
read back from an earlier run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.image import imread

from bot.alerts.chart import LEVEL_COLOUR, MARK_COLOUR, UP_COLOUR, _ticks, render_alert_chart
from bot.models import Bar

NY = ZoneInfo("America/New_York")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OPEN = datetime(2026, 3, 2, 9, 30, tzinfo=NY)  # a Monday, 09:30 ET
SPIKE = 20


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000


def _bars(
    n: int = 30, step: timedelta = timedelta(minutes=5), times: list[datetime] | None = None
) -> list[Bar]:
    """Closes 90.0, 90.5, ... (100.0 at bar 20: the open is 99.7, so bar 20 crosses 100),
    volume 1000 except 8000 at bar 20; starting at OPEN, `step` apart unless `times`."""
    times = times or [OPEN + i * step for i in range(n)]
    out = []
    for i, t in enumerate(times):
        close = 90.0 + 0.5 * i
        volume = 8000.0 if i == SPIKE else 1000.0
        out.append(Bar(_ns(t), close - 0.3, close + 0.4, close - 0.6, close, volume, 0, "TEST"))
    return out


def _render(
    tmp_path: Path, level: float = 100.0, mark: int | None = SPIKE, name: str = "a.png"
) -> np.ndarray:
    bars = _bars()
    mark_ts = None if mark is None else bars[mark].ts
    out = render_alert_chart(bars, level, mark_ts, "TEST crossed 100.00", tmp_path / name)
    return imread(out)


def _mask(img: np.ndarray, colour: str, tol: float = 0.03) -> np.ndarray:
    rgb = np.array(to_rgb(colour), dtype=np.float32)
    mask: np.ndarray = np.all(np.abs(img[..., :3] - rgb) < tol, axis=-1)
    return mask


def _level_row(img: np.ndarray) -> float:
    """The row of the level line: the rows with a long run of the level colour."""
    rows = np.flatnonzero(_mask(img, LEVEL_COLOUR).sum(axis=1) > 400)
    assert rows.size, "no level line (400+ pixels of LEVEL_COLOUR in a row)"
    assert rows.max() - rows.min() <= 3, f"the level line is not one thin line: rows {rows}"
    return float(rows.mean())


def _mark_column(img: np.ndarray) -> float:
    cols = np.flatnonzero(_mask(img, MARK_COLOUR).any(axis=0))
    assert cols.size, "no pixel of MARK_COLOUR"
    # One bar is about 22 px wide (30 bars across about 650 px).
    assert cols.max() - cols.min() <= 25, f"the mark is spread over columns {cols}"
    return float(cols.mean())


def test_writes_a_png_of_about_800_by_450(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "chart.png"  # folders made as needed
    out = render_alert_chart(_bars(), 100.0, _bars()[SPIKE].ts, "TEST", path)
    assert out == path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    height, width = img.shape[:2]
    assert 700 <= width <= 900 and 400 <= height <= 520, img.shape
    assert [p.name for p in path.parent.iterdir()] == ["chart.png"]  # no temporary left


def test_level_line_is_drawn_where_the_level_is(tmp_path: Path) -> None:
    # All three levels lie within the bars' range (89.4 .. 104.9), so the y axis is the same.
    r98 = _level_row(_render(tmp_path, level=98.0, name="98.png"))
    r100 = _level_row(_render(tmp_path, level=100.0, name="100.png"))
    r104 = _level_row(_render(tmp_path, level=104.0, name="104.png"))
    assert r104 < r100 < r98  # higher price, higher in the image (smaller row)
    # Linear axis: 100 is a third of the way from 98 to 104.
    assert r98 - r100 == pytest.approx((r98 - r104) / 3, abs=2.0)


def test_level_line_lines_up_with_the_candles(tmp_path: Path) -> None:
    # Every candle rises (close > open), so UP_COLOUR bodies span from bar 0's open (89.7)
    # to bar 29's close (104.5): a level at either price lies on the body's edge. Body rows
    # are told from wick rows by width: a body is about 13 px wide, a wick 1 or 2.
    top = _level_row(_render(tmp_path, level=104.5, name="top.png"))
    bottom_img = _render(tmp_path, level=89.7, name="bottom.png")
    bottom = _level_row(bottom_img)
    body_rows = np.flatnonzero(_mask(bottom_img, UP_COLOUR).sum(axis=1) >= 6)
    assert body_rows.size
    assert top == pytest.approx(body_rows.min(), abs=3.0)
    assert bottom == pytest.approx(body_rows.max(), abs=3.0)


def test_level_outside_the_bars_is_still_shown(tmp_path: Path) -> None:
    img = _render(tmp_path, level=120.0)  # far above every high (104.9)
    r120 = _level_row(img)
    assert r120 < _level_row(_render(tmp_path, level=104.0, name="b.png"))


def test_marked_bar_is_highlighted_and_absent_without_a_mark(tmp_path: Path) -> None:
    assert not _mask(_render(tmp_path, mark=None, name="none.png"), MARK_COLOUR).any()
    c5 = _mark_column(_render(tmp_path, mark=5, name="5.png"))
    c20 = _mark_column(_render(tmp_path, mark=20, name="20.png"))
    c25 = _mark_column(_render(tmp_path, mark=25, name="25.png"))
    assert c5 < c20 < c25
    # The x axis is the bar index: bar 20 is three quarters of the way from bar 5 to 25.
    assert c20 - c5 == pytest.approx(0.75 * (c25 - c5), abs=2.0)


def _runs(columns: np.ndarray) -> list[float]:
    """The centres of the runs of consecutive column numbers."""
    splits = np.flatnonzero(np.diff(columns) > 1) + 1
    return [float(run.mean()) for run in np.split(columns, splits)]


def test_bars_are_evenly_spaced_across_a_night(tmp_path: Path) -> None:
    # 10 bars on Monday afternoon, 10 on Tuesday morning: the 18 hours between them take
    # no room, every candle is as far from the next as any other, and they fill the width.
    monday = [OPEN + timedelta(hours=5, minutes=5 * i) for i in range(10)]  # 14:30-15:15
    times = monday + [OPEN + timedelta(days=1, minutes=5 * i) for i in range(10)]
    bars = _bars(times=times)
    img = imread(render_alert_chart(bars, 95.0, None, "TEST", tmp_path / "gap.png"))
    centres = _runs(np.flatnonzero(_mask(img, UP_COLOUR).any(axis=0)))
    assert len(centres) == 20
    gaps = np.diff(centres)
    assert gaps.max() - gaps.min() <= 2.0, gaps
    width = img.shape[1]
    assert centres[0] < 0.15 * width and centres[-1] > 0.8 * width
    assert _ticks(bars)[1][0] == "03-02 14:30" and _ticks(bars)[1][-1] == "03-03 10:15"


def test_mark_ts_not_among_the_bars_marks_nothing(tmp_path: Path) -> None:
    bars = _bars()
    out = render_alert_chart(bars, 100.0, bars[SPIKE].ts + 1, "TEST", tmp_path / "x.png")
    assert not _mask(imread(out), MARK_COLOUR).any()


def _bottom_run(mask: np.ndarray) -> int:
    """Height in rows of the lowest block of consecutive rows holding the colour."""
    rows = np.flatnonzero(mask.any(axis=1))
    assert rows.size, "no pixel of the colour"
    run = 1
    while run < rows.size and rows[-run - 1] == rows[-run] - 1:
        run += 1
    return run


def test_volume_panel_shows_the_spike(tmp_path: Path) -> None:
    # The marked bar's volume bar is drawn in MARK_COLOUR, the lowest thing of that colour.
    # The volume axis starts at 0 and is the same in both images (the spike sets its top),
    # so the spike's bar (8000) is 8 times as tall as an ordinary bar's (1000).
    spike = _bottom_run(_mask(_render(tmp_path, mark=SPIKE, name="s.png"), MARK_COLOUR))
    plain = _bottom_run(_mask(_render(tmp_path, mark=10, name="p.png"), MARK_COLOUR))
    assert plain >= 5
    assert spike / plain == pytest.approx(8.0, rel=0.15)


def test_tick_labels_are_eastern_times() -> None:
    idx, labels = _ticks(_bars())  # 30 five-minute bars from 09:30 ET: the last at 11:55
    assert idx[0] == 0 and idx[-1] == 29 and len(idx) <= 8
    assert labels[0] == "09:30" and labels[-1] == "11:55"
    daily = _bars(10, timedelta(days=1))  # 2026-03-02 .. 2026-03-11, one bar a day
    assert _ticks(daily)[1][0] == "03-02" and _ticks(daily)[1][-1] == "03-11"
    two_days = _bars(4, timedelta(hours=12))  # 09:30, 21:30, 09:30, 21:30
    assert _ticks(two_days)[1] == ["03-02 09:30", "03-02 21:30", "03-03 09:30", "03-03 21:30"]


def test_one_bar_renders(tmp_path: Path) -> None:
    bar = _bars(1)[0]
    out = render_alert_chart([bar], 90.0, bar.ts, "one", tmp_path / "one.png")
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert _ticks([bar]) == ([0], ["09:30"])


def test_no_bars_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no bars"):
        render_alert_chart([], 100.0, None, "TEST", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(b"old")

    def broken(self: Figure, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        render_alert_chart(_bars(), 100.0, None, "TEST", path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]


def test_rendering_never_imports_pyplot(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from bot.alerts.chart import render_alert_chart
        from bot.models import Bar
        bars = [Bar(i * 60_000_000_000, 1.0, 2.0, 0.5, 1.5, 10.0, 0) for i in range(5)]
        render_alert_chart(bars, 1.2, bars[2].ts, "t", Path({str(tmp_path / "p.png")!r}))
        print("matplotlib.pyplot" in sys.modules, "matplotlib.figure" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_SIGNATURE
