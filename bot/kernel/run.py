"""The kernel put together: one series, its indicator caches, runs and their metrics.

`Kernel(series)` is built once per sweep worker (like the engine path's `Evaluator`).
`run(settings, start, stop)` gives what `run_backtest(settings, series, start, stop)`
records (equity and position at every close, the closed trades, the signals of the
span); `rows(...)` the metrics of such runs as the sweep stores them. As in
`run_backtest`, the strategy sees every bar from the first one (bars before `start` are
its warm-up), so a combination's signals are computed once and every span trades them.

The signals come from the strategy's own compiled kernel, which its registry entry names
(`Registered.kernel`, e.g. strategies/level_kernel.py): `for_config(cfg)` returns a
`SignalKernel`, which reads the bars and indicator series from here and returns
`Signals`. Nothing here knows a particular strategy.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.data.series import BarSeries
from bot.kernel import fills as F
from bot.kernel import series as ind
from bot.kernel.metrics import numpy_block, performance
from bot.kernel.params import Trading, trading_params
from bot.models import Signal, Trade
from bot.settings import Settings
from bot.strategy import StrategyConfig
from bot.sweep.metrics import METRIC_KEYS, Row
from strategies import REGISTRY, default_config

_SIGNAL_CACHE = 256  # strategy configs whose signals a worker keeps
_SERIES_CACHE = 32  # indicator series a worker keeps (8 MB each over a million bars)
_INT_FIGURES = frozenset({"bars", "max_drawdown_duration_bars", "trades"})
_EXITS = {F.BY_SIGNAL: "signal", F.BY_STOP: "stop", F.BY_TAKE_PROFIT: "take_profit"}


@dataclass(frozen=True)
class Signals:
    """A strategy's signals over a series, as the compiled fills read them."""

    bar: np.ndarray  # int64, ascending; in the strategy's order within a bar
    tag: np.ndarray  # int64: the index of the signal's tag in `names`
    side: np.ndarray  # int8: +1 enters long / exits a short; -1 enters short / exits a long
    names: tuple[str, ...]  # the tags (an exit closes the position its own tag opened)


class SignalKernel(Protocol):
    """What a strategy's compiled kernel offers (one per [strategy] table)."""

    def signals(self, kernel: Kernel, stop: int) -> Signals:
        """Every signal over bars [0, stop) of `kernel`'s series."""
        ...

    def signal_objects(
        self, kernel: Kernel, symbol: str, start: int, stop: int
    ) -> Sequence[Signal]:
        """The signals of bars [start, stop) as the strategy object gives them."""
        ...


def signal_kernel(cfg: StrategyConfig) -> SignalKernel:
    """The compiled kernel of `cfg`'s strategy (bot.kernel.support says whether it has one)."""
    entry = REGISTRY[cfg.name]
    assert entry.kernel is not None
    module = importlib.import_module(entry.kernel)
    found: SignalKernel = module.for_config(cfg)
    return found


@dataclass(frozen=True)
class KernelRun:
    """One span traded: as `BacktestResult` has it, with the trades as two tables."""

    start: int
    stop: int
    equity: np.ndarray
    position: np.ndarray
    trade_ints: np.ndarray  # columns bot.kernel.fills.T_ENTRY_BAR...
    trade_floats: np.ndarray  # columns bot.kernel.fills.T_ENTRY_PRICE...
    signals: int  # signals confirmed in the span (refused ones included)
    names: tuple[str, ...]


class Kernel:
    """The kernel over one series (bars [0, len) are the strategy's whole history)."""

    def __init__(self, series: BarSeries) -> None:
        self.series = series
        self.ppy = series.timeframe.periods_per_year
        self._cols: dict[str, np.ndarray] = {
            name: np.ascontiguousarray(getattr(series, name), dtype="float64")
            for name in ("open", "high", "low", "close", "volume")
        }
        self._cols["session"] = np.ascontiguousarray(series.session, dtype="int64")
        self._cols["ts"] = np.ascontiguousarray(series.ts, dtype="int64")
        self._series: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._signals: OrderedDict[tuple[str, int], Signals] = OrderedDict()
        self._kernels: dict[str, SignalKernel] = {}
        self._trading: dict[str, Trading] = {}
        self._block = numpy_block()  # how this numpy sums (the figures' last bit)

    # -- inputs ------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """A bar column as a contiguous array: open, high, low, close, volume (float64),
        session, ts (int64)."""
        return self._cols[name]

    def indicator(self, name: str, n: int) -> np.ndarray:
        """An indicator series (cached): "atr", "volume", "peak", "rsi" or "adx"."""
        key = (name, n)
        found = self._series.get(key)
        if found is not None:
            self._series.move_to_end(key)
            return found
        col = self._cols
        h, lo, c = col["high"], col["low"], col["close"]
        if name == "atr":
            found = ind.atr(h, lo, c, n)
        elif name == "volume":
            found = ind.volume_mean_before(col["volume"], n)
        elif name == "peak":
            found = ind.session_peak(col["session"], h, n)
        elif name == "rsi":
            found = ind.rsi(c, n)
        elif name == "adx":
            found = ind.adx(h, lo, c, n)
        else:
            raise ValueError(f"no indicator series {name!r}")
        self._series[key] = found
        if len(self._series) > _SERIES_CACHE:
            self._series.popitem(last=False)
        return found

    def signals(self, cfg: StrategyConfig, stop: int) -> Signals:
        """The strategy's signals over bars [0, stop) (cached per config)."""
        text = cfg.model_dump_json()  # equal configs, equal signals
        key = (text, stop)
        found = self._signals.get(key)
        if found is not None:
            self._signals.move_to_end(key)
            return found
        found = self._signals[key] = self._kernel(cfg, text).signals(self, stop)
        if len(self._signals) > _SIGNAL_CACHE:
            self._signals.popitem(last=False)
        return found

    def signal_objects(
        self, cfg: StrategyConfig, symbol: str, start: int, stop: int
    ) -> Sequence[Signal]:
        """The signals of bars [start, stop) as the strategy gives them (what `bot scan`
        lists), from bars [0, stop); their `reason` is left empty."""
        return self._kernel(cfg, cfg.model_dump_json()).signal_objects(self, symbol, start, stop)

    # -- runs --------------------------------------------------------------------------
    def run(
        self, settings: Settings, start: int, stop: int, sig: Signals | None = None
    ) -> KernelRun:
        """Bars [start, stop) traded as `run_backtest` trades them."""
        sig = sig if sig is not None else self.signals(settings.strategy, stop)
        t = self._trade(settings)
        col = self._cols
        equity, position, ti, tf, n = F.trade(
            col["open"], col["high"], col["low"], col["close"],
            self.indicator("atr", t.atr_period),
            sig.bar, sig.tag, sig.side, start, stop, t.ints, t.floats,
        )  # fmt: skip
        return KernelRun(start, stop, equity, position, ti, tf, int(n), sig.names)

    def rows(self, settings: Settings, spans: tuple[tuple[int, int], ...]) -> list[Row]:
        """The METRIC_KEYS figures of each span, as the sweep stores them."""
        sig = self.signals(settings.strategy, max(stop for _, stop in spans))
        cash = settings.broker.initial_cash
        ts, close = self._cols["ts"], self._cols["close"]
        out = []
        for start, stop in spans:
            if stop <= start:  # as bot.report.metrics.performance refuses it
                raise ValueError("no bars: an empty equity curve has no metrics")
            r = self.run(settings, start, stop, sig)
            pnl = np.ascontiguousarray(r.trade_floats[:, F.T_PNL])
            fig = performance(
                r.equity, r.position, ts[start:stop], close[start:stop], pnl, self.ppy, cash,
                self._block,
            )  # fmt: skip
            out.append(as_row(fig))
        return out

    def trades(self, r: KernelRun, symbol: str) -> list[Trade]:
        """A run's trades as the engine's `Trade` objects, of `symbol` (no reason texts:
        the exit's kind is the exit reason, "signal", "stop" or "take_profit")."""
        ts = self._cols["ts"]
        out = []
        for ints, floats in zip(r.trade_ints.tolist(), r.trade_floats.tolist(), strict=True):
            out.append(
                Trade(
                    side="long" if ints[F.T_SIDE] > 0 else "short",
                    qty=floats[F.T_QTY],
                    entry_ts=int(ts[ints[F.T_ENTRY_BAR]]),
                    entry_price=floats[F.T_ENTRY_PRICE],
                    exit_ts=int(ts[ints[F.T_EXIT_BAR]]),
                    exit_price=floats[F.T_EXIT_PRICE],
                    pnl=floats[F.T_PNL],
                    commission=floats[F.T_COMMISSION],
                    entry_reason="",
                    exit_reason=_EXITS[ints[F.T_EXIT_KIND]],
                    level=r.names[ints[F.T_LEVEL]],
                    symbol=symbol,
                )
            )
        return out

    def _kernel(self, cfg: StrategyConfig, key: str) -> SignalKernel:
        found = self._kernels.get(key)
        if found is None:
            found = self._kernels[key] = signal_kernel(cfg)
        return found

    def _trade(self, settings: Settings) -> Trading:
        key = settings.risk.model_dump_json() + settings.broker.model_dump_json()
        found = self._trading.get(key)
        if found is None:
            found = self._trading[key] = trading_params(settings)
        return found


def as_row(fig: np.ndarray) -> Row:
    """The kernel's figures (NaN: undefined) as a sweep row (None: undefined)."""
    row: Row = []
    for key, v in zip(METRIC_KEYS, fig.tolist(), strict=True):
        if v != v:
            row.append(None)
        else:
            row.append(int(v) if key in _INT_FIGURES else v)
    return row


@functools.cache
def warm() -> float:
    """Every compiled function called once on a few bars, once per process: numba
    compiles it (the first time on this machine, a few seconds) or loads it from its
    cache. Returns the seconds that took (forked workers inherit the result)."""
    t0 = time.perf_counter()
    n = 8
    ts = np.arange(n, dtype="int64") * 86_400_000_000_000
    price = np.linspace(10.0, 11.0, n)
    series = BarSeries(ts, price, price + 0.5, price - 0.5, price, np.full(n, 1e3), np.arange(n))
    kernel = Kernel(series)
    for name in ("atr", "volume", "peak", "rsi", "adx"):
        kernel.indicator(name, 2)
    settings = Settings.model_construct(symbol="WARM")
    cfg = default_config()
    if REGISTRY[cfg.name].kernel is not None:
        kernel.rows(settings.model_copy(update={"strategy": cfg}), ((0, n),))
    return time.perf_counter() - t0
