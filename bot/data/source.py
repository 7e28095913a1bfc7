"""Where a command's bars come from: the file named on the command line, else the
market-data store (`bot data fetch`), else the bundled CSV of the config.

The store comes before the bundled file because it is the fresher one: the bundled
BABA file ends on 2026-02-20, and a status read from it is months old. A symbol the
store lacks falls back to the bundled file, and the caller warns when that file's name
says another symbol (`symbol_warning`): the warning says to run `bot data fetch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.config_load import resolve_data_path, store_path
from bot.data.load import LoadResult, load_csv
from bot.data.series import BarSeries
from bot.data.store import BarStore
from bot.data.timeframe import Timeframe
from bot.models import ET
from bot.settings import Settings


@dataclass
class Source:
    """Bars and where they came from: `path` is the CSV read (None: the store)."""

    loaded: LoadResult
    path: Path | None


def regular_hours(bars: BarSeries) -> BarSeries:
    """Minute bars of 09:30-16:00 ET only, as the CSV loader keeps them."""
    local = pd.DatetimeIndex(pd.to_datetime(bars.ts, utc=True)).tz_convert(ET)
    minutes = np.asarray(local.hour * 60 + local.minute)
    return bars.take(np.flatnonzero((minutes >= 9 * 60 + 30) & (minutes < 16 * 60)))


def load_bars(
    settings: Settings, symbol: str, given: str | Path | None, default_csv: str | None = None
) -> Source:
    """The bars of `symbol`: `given` (a CSV), else the store's, else `default_csv`
    (the config's `data.path` when None)."""
    rth = settings.data.regular_hours_only
    if given is None:
        store = BarStore(store_path(settings.data.store))
        tf = Timeframe(settings.data.timeframe)
        if store.has(symbol, tf):
            bars = store.read(symbol, tf)
            return Source(LoadResult(regular_hours(bars) if rth and not tf.daily else bars), None)
        # The bundled file, even when its name says another symbol: the caller warns
        # (symbol_warning), as it always has for a file of another stock.
        default = resolve_data_path(default_csv or settings.data.path)
        return Source(load_csv(default, rth, symbol), default)
    path = resolve_data_path(given)
    return Source(load_csv(path, rth, symbol), path)
