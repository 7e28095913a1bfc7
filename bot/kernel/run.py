"""The kernel put together: one series, its indicator caches, runs and their metrics.

`Kernel(series)` is built once per sweep worker (like the engine path's `Evaluator`).
`run(settings, start, stop)` gives what `run_backtest(settings, series, start, stop)`
records (equity and position at every close, the closed trades, the signals of the
span); `row(...)` the metrics of such a run as the sweep stores them. As in
`run_backtest`, the strategy sees every bar from the first one (bars before `start` are
its warm-up), so a combination's signals are computed once and every span trades them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bot.data.series import BarSeries
from bot.kernel import fills as F
from bot.kernel import series as ind
from bot.kernel.metrics import performance
from bot.kernel.params import Strategy, Trading, strategy_params, trading_params
from bot.kernel.signals import BREAKOUT, level_signals
from bot.models import Trade
from bot.settings import Settings
from bot.sweep.metrics import METRIC_KEYS, Row
from strategies.level_breakout import LevelBreakout
from strategies.level_config import PEAK_LEVEL, LevelBreakoutConfig, level_name
from strategies.level_signal import INTENT, LevelSignal, SignalKind

_EMPTY = np.empty(0)
_SIGNAL_CACHE = 256  # strategy configs whose signals a worker keeps
_SERIES_CACHE = 32  # indicator series a worker keeps (8 MB each over a million bars)
_INT_FIGURES = frozenset({"bars", "max_drawdown_duration_bars", "trades"})
_EXITS = {F.BY_SIGNAL: "signal", F.BY_STOP: "stop", F.BY_TAKE_PROFIT: "take_profit"}


@dataclass(frozen=True)
class Signals:
    bar: np.ndarray  # int64, ascending
    level: np.ndarray  # int64: the index of a fixed level, or len(levels) for the peak
    kind: np.ndarray  # int8: bot.kernel.signals.BREAKOUT / BREAKDOWN
    value: np.ndarray  # the level's value crossed (the frozen peak for the moving one)
    names: tuple[str, ...]  # each level's name (the signals' tag)


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
        self._cols = tuple(
            np.ascontiguousarray(c, dtype="float64")
            for c in (series.open, series.high, series.low, series.close, series.volume)
        )
        self._session = np.ascontiguousarray(series.session, dtype="int64")
        self._ts = np.ascontiguousarray(series.ts, dtype="int64")
        self._series: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._signals: OrderedDict[tuple[str, int], Signals] = OrderedDict()
        self._strategies: dict[str, Strategy] = {}
        self._trading: dict[str, Trading] = {}

    # -- inputs ------------------------------------------------------------------------
    def indicator(self, name: str, n: int) -> np.ndarray:
        """An indicator series (cached): "atr", "volume", "peak", "rsi" or "adx"."""
        key = (name, n)
        found = self._series.get(key)
        if found is not None:
            self._series.move_to_end(key)
        else:
            _, h, lo, c, v = self._cols
            if name == "atr":
                found = ind.atr(h, lo, c, n)
            elif name == "volume":
                found = ind.volume_mean_before(v, n)
            elif name == "peak":
                found = ind.session_peak(self._session, h, n)
            elif name == "rsi":
                found = ind.rsi(c, n)
            else:
                found = ind.adx(h, lo, c, n)
            self._series[key] = found
            if len(self._series) > _SERIES_CACHE:
                self._series.popitem(last=False)
        return found

    def signals(self, cfg: LevelBreakoutConfig, stop: int) -> Signals:
        """The strategy's signals over bars [0, stop) (cached per config)."""
        p = self._strategy(cfg)
        key = (p.key, stop)
        found = self._signals.get(key)
        if found is not None:
            self._signals.move_to_end(key)
            return found
        ints = p.ints.copy()
        ints[4] = stop  # bot.kernel.signals.I_STOP
        bar, level, kind, value = level_signals(
            self._cols[3],
            self._cols[4],
            p.levels,
            self.indicator("peak", p.peak_lookback) if p.peak_lookback else _EMPTY,
            self.indicator("volume", p.volume_lookback) if p.volume_lookback else _EMPTY,
            self.indicator("rsi", p.rsi_period) if p.rsi_period else _EMPTY,
            self.indicator("adx", p.adx_period) if p.adx_period else _EMPTY,
            ints,
            p.floats,
        )
        names = tuple(level_name(v) for v in cfg.levels)
        if p.peak_lookback:
            names += (PEAK_LEVEL,)
        found = self._signals[key] = Signals(bar, level, kind, value, names)
        if len(self._signals) > _SIGNAL_CACHE:
            self._signals.popitem(last=False)
        return found

    # -- runs --------------------------------------------------------------------------
    def run(
        self, settings: Settings, start: int, stop: int, sig: Signals | None = None
    ) -> KernelRun:
        """Bars [start, stop) traded as `run_backtest` trades them."""
        cfg = settings.strategy
        assert isinstance(cfg, LevelBreakoutConfig)
        sig = sig if sig is not None else self.signals(cfg, stop)
        t = self._trade(settings)
        o, h, lo, c, _ = self._cols
        equity, position, ti, tf, n = F.trade(
            o, h, lo, c, self.indicator("atr", t.atr_period),
            sig.bar, sig.level, sig.kind, start, stop, t.ints, t.floats,
        )  # fmt: skip
        return KernelRun(start, stop, equity, position, ti, tf, int(n), sig.names)

    def rows(self, settings: Settings, spans: tuple[tuple[int, int], ...]) -> list[Row]:
        """The METRIC_KEYS figures of each span, as the sweep stores them."""
        cfg = settings.strategy
        assert isinstance(cfg, LevelBreakoutConfig)
        sig = self.signals(cfg, max(stop for _, stop in spans))
        cash = settings.broker.initial_cash
        out = []
        for start, stop in spans:
            if stop <= start:  # as bot.report.metrics.performance refuses it
                raise ValueError("no bars: an empty equity curve has no metrics")
            r = self.run(settings, start, stop, sig)
            pnl = np.ascontiguousarray(r.trade_floats[:, F.T_PNL])
            fig = performance(
                r.equity, r.position, self._ts[start:stop], self._cols[3][start:stop],
                pnl, self.ppy, cash,
            )  # fmt: skip
            out.append(as_row(fig))
        return out

    def trades(self, r: KernelRun, symbol: str) -> list[Trade]:
        """A run's trades as the engine's `Trade` objects, of `symbol` (no reason texts:
        the exit's kind is the exit reason, "signal", "stop" or "take_profit")."""
        ts = self._ts
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

    def signal_objects(
        self, cfg: LevelBreakoutConfig, symbol: str, start: int, stop: int
    ) -> list[LevelSignal]:
        """The signals of bars [start, stop) as the strategy's `LevelSignal`s (what `bot
        scan` lists), from bars [0, stop); their `reason` is left empty."""
        sig = self.signals(cfg, stop)
        vmean = self.indicator("volume", cfg.volume_lookback)  # the strategy's, rule on or off
        close, volume, ts = self._cols[3], self._cols[4], self._ts
        out: list[LevelSignal] = []
        first = int(np.searchsorted(sig.bar, start))
        for i, k, kind, value in zip(
            sig.bar[first:].tolist(),
            sig.level[first:].tolist(),
            sig.kind[first:].tolist(),
            sig.value[first:].tolist(),
            strict=True,
        ):
            what = SignalKind.BREAKOUT if kind == BREAKOUT else SignalKind.BREAKDOWN
            c, vm = float(close[i]), float(vmean[i])
            ratio = (
                float(volume[i]) / vm
                if vm > 0
                else (math.inf if what is SignalKind.BREAKOUT else math.nan)
            )
            enters, exits = INTENT[what]
            out.append(
                LevelSignal(
                    ts=int(ts[i]),
                    kind=what,
                    tag=sig.names[k],
                    enters=enters,
                    exits=exits,
                    close=c,
                    reason="",
                    strategy=LevelBreakout.name,
                    id_prefix=LevelBreakout.id_prefix,
                    symbol=symbol,
                    level_value=value,
                    distance_pct=(c / value - 1.0) * 100.0,
                    volume_ratio=None if ratio != ratio or math.isinf(ratio) else ratio,
                )
            )
        return out

    def _strategy(self, cfg: LevelBreakoutConfig) -> Strategy:
        key = cfg.model_dump_json()
        found = self._strategies.get(key)
        if found is None:
            found = self._strategies[key] = strategy_params(cfg)
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


def warm() -> None:
    """Every compiled function called once on a few bars: numba compiles it (the first
    time on this machine, a few seconds) or loads it from its cache."""
    n = 8
    ts = np.arange(n, dtype="int64") * 86_400_000_000_000
    price = np.linspace(10.0, 11.0, n)
    series = BarSeries(ts, price, price + 0.5, price - 0.5, price, np.full(n, 1e3), np.arange(n))
    from bot.settings import Settings

    cfg = LevelBreakoutConfig(
        levels=[10.5], peak_lookback_sessions=2, rsi_filter=True, adx_filter=True
    )
    settings = Settings.model_construct(symbol="WARM").model_copy(update={"strategy": cfg})
    Kernel(series).rows(settings, ((0, n),))
