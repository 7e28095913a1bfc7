"""Bars written as CSV in the format bar files are read in (bot/data/load.py), so an
export read back with `--data` or `bot data import` gives the same bars."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bot.data.series import BarSeries
from bot.models import ET


def write_csv(bars: BarSeries, path: Path) -> None:
    """timestamp (ET with offset; daily bars: the date), open, high, low, close, volume.
    Prices with `repr` precision, so the round trip is exact. Written aside, then renamed."""
    idx = pd.DatetimeIndex(pd.to_datetime(bars.ts, utc=True)).tz_convert(ET)
    stamps = idx.strftime("%Y-%m-%d") if bars.timeframe.daily else idx.map(lambda t: t.isoformat())
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_csv(tmp, index=False, float_format=None)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
