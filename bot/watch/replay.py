"""`bot replay DATE`: a past day minute by minute through the watcher (bot/watch/pipeline.py),
its alerts to the configured channels or, with none, the console. Nothing is traded.

- Minute bars of the day come from the market-data store (`bot data fetch SYM
  --timeframe 1m --from DATE`), else from a `<SYM>_1m_<DATE>.csv` file in `data/` (the
  bundled 2026-01-29 morning of BABA is the offline default).
- The strategy warms up on the daily bars before the day (a daily timeframe), or, for an
  intraday one, on the day's own earlier bars only.
- The alerts go through the outbox of a state file of the replay's own
  (`<paper.state_dir>/replay-<DATE>`), started afresh each time: a replay is shown again
  when it is run again, and its ids never collide with a live run's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from bot import lifecycle
from bot.alerts.channels import Channels
from bot.alerts.deliver import Deliverer
from bot.alerts.tiers import TierAlert
from bot.config_load import PROJECT_ROOT, store_path
from bot.data.calendar import MarketCalendar
from bot.data.load import load_csv, symbol_warning
from bot.data.series import BarSeries
from bot.data.source import load_bars, regular_hours
from bot.data.store import BarStore
from bot.data.timeframe import Timeframe
from bot.engine.timeline import by_time
from bot.models import DataError, session_day
from bot.settings import Settings
from bot.store.state import StateStore
from bot.study.baserate import StudyData
from bot.watch.alerts import alert_of
from bot.watch.pipeline import SymbolWatch

DEFAULT_DAY = date(2026, 1, 29)  # the bundled minute file's morning


@dataclass
class ReplayOptions:
    day: date = DEFAULT_DAY
    timeframe: str | None = None  # None: each symbol's [alerts.tiers] timeframe
    speed: float = 0.0  # minutes a second; 0: flat out
    symbol: str | None = None


def minutes_of(settings: Settings, symbol: str, day: date) -> BarSeries:
    """The day's regular-hours minute bars of `symbol` (store first, then a data file)."""
    store = BarStore(store_path(settings.data.store))
    if store.has(symbol, "1m"):
        bars = store.read(symbol, "1m")
        mine = bars.take(np.flatnonzero(bars.session == session_day(day)))
        if len(mine):
            return regular_hours(mine)
    path = PROJECT_ROOT / "data" / f"{symbol}_1m_{day.isoformat()}.csv"
    if path.is_file():
        return load_csv(path, regular_hours_only=True, symbol=symbol).bars
    raise DataError(
        f"no minute bars of {symbol} on {day}: run `bot data fetch {symbol} --timeframe 1m "
        f"--from {day}`"
    )


def replay_day(settings: Settings, opts: ReplayOptions, printer: Callable[[str], None]) -> int:
    """Replay the day; the number of alerts it made."""
    symbols = [opts.symbol.upper()] if opts.symbol else settings.symbols
    day = opts.day
    calendar = MarketCalendar(day - timedelta(days=500), day + timedelta(days=10))
    if not calendar.sessions(day, day):
        raise DataError(f"{day} is not an NYSE session")
    watches, minutes = {}, {}
    for sym in symbols:
        mine = settings.for_symbol(sym)
        tf = Timeframe(opts.timeframe or settings.tiers_of(sym).timeframe)
        watch = SymbolWatch(mine, sym, tf, calendar, settings.tiers_of(sym))
        source = load_bars(mine, sym, None)
        daily = source.loaded.bars
        before = daily.index_of(day.isoformat())
        if tf.daily:
            watch.warm_up(daily.iter_bars(0, before))
        # The base rates: the symbol's own daily bars before the day (never another
        # symbol's bundled file; an alert counts no case after it).
        if source.path is None or symbol_warning(source.path, sym) is None:
            watch.study = StudyData.build(settings, sym, daily.take(np.arange(before)))
        watches[sym], minutes[sym] = watch, minutes_of(settings, sym, day)
    state = Path(settings.paper.state_dir) / f"replay-{day.isoformat()}"
    state.mkdir(parents=True, exist_ok=True)
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (state / name).unlink(missing_ok=True)
    StateStore(state / "state.sqlite").close()  # the schema, outbox included
    channels = Channels.from_env(printer=printer)
    deliverer = Deliverer.open(state / "state.sqlite", settings.alerts, channels)
    made = 0
    try:
        streams = {sym: minutes[sym].iter_bars() for sym in symbols}
        for at_once in by_time(streams):
            for bar in at_once:
                for tier in watches[bar.symbol].on_minute(bar).alerts:
                    made += _send(deliverer, watches[bar.symbol], tier, settings)
            if opts.speed > 0:
                lifecycle.sleep(1.0 / opts.speed)
        for watch in watches.values():
            for tier in watch.close_session().alerts:
                made += _send(deliverer, watch, tier, settings)
        deliverer.flush(30.0)
    finally:
        deliverer.close()
    return made


def _send(deliverer: Deliverer, watch: SymbolWatch, tier: TierAlert, settings: Settings) -> int:
    level = next((lv for lv in watch.levels if abs(lv.price - tier.level) < 1e-9), None)
    alert = alert_of(tier, level, settings.alerts.routes, watch.history_of(tier))
    return int(deliverer.submit(alert))
