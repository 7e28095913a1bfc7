"""One symbol's row of a scan: its bars, its 52-week peak, its levels, its recent signals.

`measure_chunk(job, targets)` is the unit of work a local worker or a Dask worker runs
(bot.parallel); the job, sent to each worker once, holds the settings the bars are read
with. The bars come from `bot.data.source.load_bars`: the store's daily bars, else, for
the symbol the config's bar file belongs to only (`bundled_holds`), that file; a symbol
with neither is a "no data" row with the reason, and the scan goes on.

No look-ahead: the 52-week peak is the one the strategies compare a close with
(`bot.indicators.SessionPeak`): the highest high of the `peak_sessions` sessions before
the last bar, the last bar excluded; with fewer sessions than that there is no peak (as
in the strategy, which waits for its full window). The signals are those the symbol's
strategy confirms over the whole history (`bot.engine.scan.scan`, as `bot signals`
runs it, or the compiled kernel's same signals, bot.kernel), kept for the last `bars`
bars. Knows no particular strategy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.config_load import store_path
from bot.data.load import symbol_in_name
from bot.data.series import BarSeries
from bot.data.source import load_bars
from bot.data.store import BarStore
from bot.data.timeframe import DAILY
from bot.engine.scan import scan
from bot.indicators import SessionPeak
from bot.kernel import missing as kernel_missing
from bot.kernel.support import unsupported_strategy
from bot.models import DataError, Signal, ns_to_et, session_date
from bot.scan.targets import Target
from bot.settings import Settings
from bot.strategy import StrategyConfig
from bot.watchlist import Level
from strategies import build_strategy

__all__ = [
    "NO_DATA",
    "OK",
    "ScanJob",
    "ScanRow",
    "SeenSignal",
    "StoreNotShared",
    "measure",
    "measure_chunk",
]

OK = "ok"
NO_DATA = "no data"


class StoreNotShared(DataError):
    """A worker does not see the store this process sees (a cluster without it)."""


@dataclass(frozen=True)
class ScanJob:
    """What every worker needs, sent once per worker."""

    settings: Settings  # daily bars, absolute store and bundled-file paths, no secrets
    bars: int  # signals of the last `bars` bars are reported
    stored: frozenset[str]  # symbols this process found in the store


@dataclass(frozen=True)
class SeenSignal:
    when: str  # the bar's date (a time too on intraday bars), US/Eastern
    kind: str
    label: str  # the signal in a few words, as the paper log prints it

    def text(self) -> str:
        return f"{self.when} {self.label}"


@dataclass(frozen=True)
class ScanRow:
    """What a scan reports about one symbol."""

    symbol: str
    status: str  # OK or NO_DATA
    watched: bool  # scanned with the watchlist's rules and levels
    note: str = ""  # why there is no data, or no peak
    bars: int = 0
    last_date: str = ""
    last_close: float | None = None
    peak: float | None = None  # 52-week peak as of the last bar (that bar excluded)
    peak_date: str = ""  # the session of the high that made it (the first, on ties)
    peak_distance_pct: float | None = None  # last close vs the peak, %
    levels: tuple[Level, ...] = ()
    nearest_level: float | None = None
    level_distance_pct: float | None = None  # last close vs the nearest level, %
    signals: tuple[SeenSignal, ...] = field(default=())


def measure_chunk(job: ScanJob, targets: Sequence[Target]) -> list[ScanRow]:
    """The rows of a chunk of symbols (the task of bot.parallel)."""
    return [measure_one(job, t) for t in targets]


def measure_one(job: ScanJob, target: Target) -> ScanRow:
    loaded = _bars(job, target)
    if isinstance(loaded, str):
        return ScanRow(target.symbol, NO_DATA, target.watched, loaded, levels=target.levels)
    series, note = loaded
    return measure(target, series, job.bars, note)


def _bars(job: ScanJob, target: Target) -> tuple[BarSeries, str] | str:
    """The symbol's bars and a note about them, or why there are none."""
    settings, sym = job.settings, target.symbol
    store = BarStore(store_path(settings.data.store))
    stored = store.has(sym, DAILY)
    if sym in job.stored and not stored:
        raise StoreNotShared(
            f"a worker sees no daily bars of {sym} in the store {store.root}, which this "
            "machine has: the workers read the store themselves, so give them the same "
            "folder (a shared disk; data.store may be an absolute path)"
        )
    if not stored and not bundled_holds(settings, sym):
        # Never another stock's bars (and the bundled file is not read once per symbol).
        return f"no daily bars of {sym} in the store ({store.root}): run `bot data fetch {sym}`"
    try:
        source = load_bars(settings, sym, None)
    except DataError as exc:  # a damaged store file, a missing bundled file: named
        return str(exc)
    series = source.loaded.bars
    if len(series) == 0:
        return f"no bars of {sym} in {source.path or store.root}"
    rejected = len(source.loaded.rejected)
    note = f"{rejected} row(s) of {source.path} rejected by the loader" if rejected else ""
    return series, note


def bundled_holds(settings: Settings, symbol: str) -> bool:
    """Whether the config's bar file (`data.path`) is `symbol`'s: its name says so
    (`BABA_1d.csv`), or it names no symbol and `symbol` is the config's `symbol`."""
    named = symbol_in_name(settings.data.path)
    return named == symbol if named is not None else symbol == settings.symbol


def measure(target: Target, series: BarSeries, bars: int, note: str = "") -> ScanRow:
    """The row of `target` over `series` (at least one bar)."""
    last = len(series) - 1
    close = float(series.close[last])
    peak, peak_ts, missing = _peak(series, target.peak_sessions)
    if missing:
        more = f"52-week peak: {target.peak_sessions} sessions before the last bar needed, "
        note = "; ".join(x for x in (note, more + f"{missing} short") if x)
    nearest = min(target.levels, key=lambda lv: (abs(close / lv.price - 1), lv.price), default=None)
    seen = tuple(
        SeenSignal(_when(s.ts), str(s.kind), s.label())
        for s in _signals(target.strategy, series, max(0, len(series) - bars))
    )
    return ScanRow(
        symbol=target.symbol,
        status=OK,
        watched=target.watched,
        note=note,
        bars=len(series),
        last_date=session_date(int(series.session[last])).isoformat(),
        last_close=close,
        peak=peak,
        peak_date="" if peak is None else ns_to_et(peak_ts).date().isoformat(),
        peak_distance_pct=None if peak is None else _pct(close, peak),
        levels=target.levels,
        nearest_level=None if nearest is None else nearest.price,
        level_distance_pct=None if nearest is None else _pct(close, nearest.price),
        signals=seen,
    )


def _signals(cfg: StrategyConfig, series: BarSeries, start: int) -> Sequence[Signal]:
    """The strategy's signals of bars [start, end), from every bar: the compiled kernel's
    where it implements the strategy and numba is here (the same signals, many times
    faster), else the strategy object's."""
    if kernel_missing() is None and unsupported_strategy(cfg) is None:
        from bot.kernel.run import Kernel

        return Kernel(series).signal_objects(cfg, series.symbol, start, len(series))
    return scan(build_strategy(cfg), series, start).signals


def _peak(series: BarSeries, sessions: int) -> tuple[float | None, int, int]:
    """(peak, ts of the bar that made it, sessions missing) as of the last bar: the
    strategies' rule (SessionPeak), fed only the sessions its window can reach."""
    last = len(series) - 1
    session = series.session
    days = np.unique(session[:last])  # sorted; the last bar's session is the last one
    before = int(np.searchsorted(days, session[last]))  # complete sessions before it
    first_day = days[max(0, before - sessions)] if before else session[last]
    start = int(np.searchsorted(session, first_day))
    window = SessionPeak(sessions)
    for day, high, ts in zip(
        session[start:last].tolist(),
        series.high[start:last].tolist(),
        series.ts[start:last].tolist(),
        strict=True,
    ):
        window.push(day, high, ts)
    value, ts = window.peak(int(session[last]))
    if math.isnan(value):
        return None, 0, sessions - before
    return value, ts, 0


def _pct(close: float, level: float) -> float:
    return (close / level - 1) * 100


def _when(ts: int) -> str:
    t = ns_to_et(ts)
    return t.date().isoformat() if (t.hour, t.minute) == (0, 0) else f"{t:%Y-%m-%d %H:%M}"
