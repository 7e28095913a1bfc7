"""The compiled kernel (bot/kernel) against the engine: trade for trade, bar for bar.

The engine (`run_backtest`: the strategy object, the risk manager, the SimBroker, the
portfolio) is the independent implementation every kernel result is checked against:
- each indicator series equals the incremental class bar for bar, bit for bit;
- `round_cents` is Python's `round(x, 2)`, ties and near-ties included;
- a seeded sample of combinations (every rule: fixed levels and the peak, volume rule,
  RSI/ADX filters, every sizing, stops, trailing stops, take-profit, shorts, costs, fill
  at close, exit_on_breakdown off) on the real BABA bars and on synthetic minute bars,
  over spans that start after a warm-up: the same trades (every field but the texts),
  the same equity and position at every close, the same signals, the same figures;
- hand-made bars for the edge cases, each with its expected trade worked out by hand
  (a gap through the stop, a stop and a take-profit in one bar, a take-profit at the
  open, fill at close, a short with a trailing stop, a minimum commission, buying power,
  two levels crossed on one bar, a zero volume mean), and the engine's trade besides;
- the scan's signals from the kernel equal the strategy object's.
Without numba (the `fast` extra) these tests skip, except under CI=true, where the
extra is always installed and a skip would hide a broken set-up.
"""

from __future__ import annotations

import importlib.util
import os
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

if importlib.util.find_spec("numba") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("numba is missing: `make test` installs the fast extra", pytrace=False)
    pytest.skip("numba is not installed (the fast extra)", allow_module_level=True)

from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.engine.backtest import run_backtest
from bot.engine.scan import scan
from bot.indicators import ADX, ATR, RSI, RollingMean, SessionPeak
from bot.kernel import fills
from bot.kernel.run import Kernel
from bot.models import Trade
from bot.report.runfolder import compute_metrics
from bot.settings import Settings
from bot.sweep.metrics import METRIC_KEYS
from scripts.bench import synthetic_minutes
from strategies import build_strategy
from strategies.level_config import LevelBreakoutConfig
from tests.conftest import make_bars
from tests.test_runner_fake import series_of


@pytest.fixture(scope="module")
def minutes() -> BarSeries:
    return synthetic_minutes(20_000, seed=7)


# ------------------------------------------------------------------- indicator series


def _incremental(series: BarSeries, name: str, n: int) -> np.ndarray:
    h, lo, c, v = series.high, series.low, series.close, series.volume
    out = []
    if name == "atr":
        atr = ATR(n)
        out = [atr.update(*x) for x in zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)]
    elif name == "volume":
        mean = RollingMean(n)
        out = [mean.push(x) for x in v.tolist()]
    elif name == "peak":
        peak = SessionPeak(n)
        rows = zip(series.session.tolist(), h.tolist(), series.ts.tolist(), strict=True)
        out = [peak.update(*x)[0] for x in rows]
    elif name == "rsi":
        rsi = RSI(n)
        out = [rsi.update(x) for x in c.tolist()]
    else:
        adx = ADX(n)
        out = [adx.update(*x) for x in zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)]
    return np.array(out)


@pytest.mark.parametrize(
    ("name", "n"),
    [
        *[("atr", 2), ("atr", 14), ("volume", 1), ("volume", 20), ("peak", 2), ("peak", 20)],
        *[("peak", 252), ("rsi", 2), ("rsi", 14), ("adx", 3), ("adx", 14)],
    ],
)
def test_indicator_series_equal_the_incremental_classes(
    daily_series: BarSeries, minutes: BarSeries, name: str, n: int
) -> None:
    for series in (daily_series, minutes):
        mine = Kernel(series).indicator(name, n)
        np.testing.assert_array_equal(mine, _incremental(series, name, n))  # NaN == NaN here


def test_round_cents_is_pythons_round() -> None:
    rng = random.Random(3)
    values = [rng.uniform(-2000, 2000) for _ in range(50_000)]
    values += [k / 1000 for k in range(-50_000, 50_000)]  # every third decimal: ties
    values += [k / 100 + 0.005 for k in range(-20_000, 20_000)]  # half a cent
    values += [x * (1 + d) for x in (2.675, 1.005, 163.435, 0.125) for d in (-2e-16, 0, 2e-16)]
    values += [0.0, -0.0, 1e-300, 5e15, -7e20, float("inf")]
    wrong = [v for v in values if fills.round_cents(v) != round(v, 2)]
    assert wrong == []


def test_sums_are_numpys_to_the_last_bit() -> None:
    # numpy 2 sums pairwise over the whole array, numpy 1.x block after block (8192).
    from bot.kernel.metrics import _sum, numpy_block

    rng = np.random.default_rng(4)
    block = numpy_block()
    for n in [*range(0, 300), 1023, 8191, 8192, 8193, 20_000, 65_537, 300_001]:
        a = rng.normal(0.0, 1e-3, n) * rng.choice([1.0, 1e5])
        assert _sum(a, block) == np.sum(a), n


# ------------------------------------------------------------- seeded combinations


def random_settings(rng: random.Random, series: BarSeries) -> Settings:
    """A combination drawn from every rule the kernel implements."""
    lo, hi = float(series.close.min()), float(series.close.max())
    levels = [round(rng.uniform(lo, hi), 2) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    sizing = rng.choice(["fixed_shares", "fixed_notional", "percent_equity", "risk"])
    stop_loss, trailing = rng.random() < 0.5, rng.random() < 0.5
    if sizing == "risk" and not (stop_loss or trailing):
        stop_loss = True
    return load_settings(
        None,
        {
            "strategy": {
                "levels": levels,
                "use_52w_peak": rng.random() < 0.7 or not levels,
                "peak_lookback_sessions": rng.choice([2, 5, 20, 252]),
                "breakout_buffer_pct": rng.choice([0, 0.1, 0.5, 1, 2]),
                "breakdown_buffer_pct": rng.choice([0, 0.5, 1, 2]),
                "confirm_closes": rng.choice([1, 1, 2, 3, 5]),
                "volume_multiple": rng.choice([0, 0, 1, 1.5]),
                "volume_lookback": rng.choice([1, 5, 20]),
                "rsi_filter": rng.random() < 0.2,
                "rsi_period": rng.choice([2, 14]),
                "rsi_max": rng.choice([60.0, 70.0, 90.0]),
                "adx_filter": rng.random() < 0.2,
                "adx_period": rng.choice([3, 14]),
                "adx_min": rng.choice([10.0, 20.0]),
            },
            "risk": {
                "sizing": sizing,
                "fixed_shares": rng.choice([1, 100, 5000]),
                "fixed_notional": rng.choice([1000.0, 50000.0, 500000.0]),
                "percent_equity": rng.choice([10.0, 25.0, 100.0]),
                "risk_pct": rng.choice([0.5, 1.0, 5.0]),
                "atr_period": rng.choice([2, 14]),
                "atr_multiple": rng.choice([0.5, 1.0, 2.0, 3.0]),
                "max_position_pct": rng.choice([20.0, 50.0, 100.0]),
                "stop_loss": stop_loss,
                "trailing_stop": trailing,
                "take_profit_pct": rng.choice([0.0, 0.0, 1.0, 3.0, 8.0]),
                "exit_on_breakdown": rng.random() < 0.8,
                "allow_short": rng.random() < 0.3,
            },
            "broker": {
                "initial_cash": rng.choice([1000.0, 100000.0]),
                "commission_per_share": rng.choice([0.0, 0.0, 0.005]),
                "commission_min": rng.choice([0.0, 0.0, 1.0]),
                "slippage_bps": rng.choice([0.0, 5.0, 20.0]),
                "fill_at": rng.choice(["next_open", "next_open", "close"]),
            },
        },
    )


def trade_key(t: Trade) -> tuple[Any, ...]:
    """Every field of a trade but the texts; how it ended from the exit reason's words."""
    how = t.exit_reason.split(" ")[0]
    how = {"stop": "stop", "take-profit": "take_profit", "take_profit": "take_profit"}.get(
        how, "signal"
    )
    fields = (t.side, t.qty, t.entry_ts, t.entry_price, t.exit_ts, t.exit_price, t.pnl)
    return (*fields, t.commission, t.level, t.symbol, how)


def assert_same_as_engine(
    settings: Settings, series: BarSeries, start: int, stop: int
) -> list[Trade]:
    """The kernel's run of [start, stop) equals `run_backtest`'s in everything it records;
    returns the trades."""
    engine = run_backtest(settings, series, start, stop)
    kernel = Kernel(series)
    run = kernel.run(settings, start, stop)
    trades = kernel.trades(run, settings.symbol)
    assert [trade_key(t) for t in trades] == [trade_key(t) for t in engine.trades]
    np.testing.assert_array_equal(run.equity, engine.equity)
    np.testing.assert_array_equal(run.position, engine.position)
    assert run.signals == len(engine.record.signals)
    expected = compute_metrics(engine)
    (row,) = kernel.rows(settings, ((start, stop),))
    for key, value in zip(METRIC_KEYS, row, strict=True):
        if key in expected:
            assert value == expected[key], key  # exactly: numpy's arithmetic, not approx
    return trades


@pytest.mark.parametrize("which", ["daily", "minutes"])
def test_seeded_combinations_equal_the_engine(
    daily_series: BarSeries, minutes: BarSeries, which: str
) -> None:
    series = daily_series if which == "daily" else minutes
    rng = random.Random(18)
    kinds: set[str] = set()
    sides: set[str] = set()
    n = len(series)
    for _ in range(40):
        settings = random_settings(rng, series)
        start = rng.choice([0, 0, n // 3, n - 60])
        stop = rng.choice([n, n, (start + n) // 2 + 1])
        for t in assert_same_as_engine(settings, series, start, stop):
            kinds.add(trade_key(t)[-1])
            sides.add(t.side)
    # The sample meant something: stops, take-profits and exit signals, long and short.
    assert kinds == {"stop", "take_profit", "signal"} and sides == {"long", "short"}


# ------------------------------------------------------------------ edge cases by hand


def bars(rows: Sequence[tuple[float, float, float, float]], volume: float = 1000.0) -> BarSeries:
    """Daily bars from (open, high, low, close) rows."""
    o, h, lo, c = (list(col) for col in zip(*rows, strict=True))
    return series_of(make_bars(c, [volume] * len(c), h, lo, o), "1d")


# Four quiet bars below the level 100 (each bar's range 2, so ATR(2) = 2), then a close
# at 101 through it: a breakout on bar 4 (its true range 4: ATR(2) = (2 + 4) / 2 = 3,
# stop = 101 - 1 x 3 = 98).
QUIET = [(98.0, 99.0, 97.0, 98.0)] * 4
BREAKOUT = (99.0, 102.0, 98.0, 101.0)


def edge_settings(
    risk: dict[str, Any] | None = None, broker: dict[str, Any] | None = None, **st: Any
) -> Settings:
    strategy = {"levels": [100.0], "use_52w_peak": False, "confirm_closes": 1}
    strategy |= {"volume_multiple": 0.0, "breakout_buffer_pct": 0.0, "breakdown_buffer_pct": 0.0}
    return load_settings(
        None,
        {
            "strategy": strategy | st,
            "risk": {"sizing": "fixed_shares", "fixed_shares": 10, "atr_period": 2}
            | {"atr_multiple": 1.0, "stop_loss": True}
            | (risk or {}),
            "broker": {"slippage_bps": 0.0} | (broker or {}),
        },
    )


def one_trade(settings: Settings, series: BarSeries) -> Trade:
    (t,) = assert_same_as_engine(settings, series, 0, len(series))
    return t


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (95.0, 96.0, 94.0, 95.0)])
    t = one_trade(edge_settings(), series)
    # Bought at bar 5's open (101), stopped at bar 6's open 95 (below the stop at 98).
    assert (t.entry_price, t.exit_price, t.qty, t.pnl) == (101.0, 95.0, 10, -60.0)
    assert trade_key(t)[-1] == "stop" and t.exit_ts == int(series.ts[6])


def test_stop_and_take_profit_in_one_bar_the_stop_first() -> None:
    # Take-profit 3% over the close: round(101 x 1.03, 2) = 104.03. Bar 6 reaches both.
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (101.0, 105.0, 97.0, 99.0)])
    t = one_trade(edge_settings({"take_profit_pct": 3.0}), series)
    assert (t.exit_price, trade_key(t)[-1]) == (98.0, "stop")


def test_a_take_profit_met_at_the_open_comes_before_the_stop() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (105.0, 106.0, 97.0, 99.0)])
    settings = edge_settings({"take_profit_pct": 3.0}, {"slippage_bps": 10.0})
    t = one_trade(settings, series)
    # At the open (105), not at its limit 104.03; a limit fill takes no slippage; the
    # entry did: 101 x 1.001.
    assert (t.exit_price, trade_key(t)[-1]) == (105.0, "take_profit")
    assert t.entry_price == 101.0 * (1 + 10.0 / 10_000)


def test_fill_at_close_and_a_minimum_commission() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (97.0, 97.5, 95.0, 96.0)])
    settings = edge_settings(
        broker={"fill_at": "close", "commission_per_share": 0.005, "commission_min": 1.0}
    )
    t = one_trade(settings, series)
    # Bought at the breakout's close 101; 10 x 0.005 = 0.05 < 1: $1 a side. The stop
    # (98) fills at bar 6's open 97, a gap.
    assert (t.entry_ts, t.entry_price, t.exit_price) == (int(series.ts[4]), 101.0, 97.0)
    assert (t.commission, t.pnl) == (2.0, (97.0 - 101.0) * 10 - 2.0)


def test_a_short_with_a_trailing_stop() -> None:
    # Quiet above 100, then a close at 99 under it: a breakdown, a short (ATR 3, stop at
    # 99 + 3 = 102), and the stop trailing the lows.
    rows = [(102.0, 103.0, 101.0, 102.0)] * 4 + [
        (101.0, 102.0, 98.0, 99.0),
        (99.0, 100.0, 96.0, 97.0),
        (97.0, 98.0, 94.0, 95.0),
        (96.0, 100.0, 95.0, 99.5),
    ]
    settings = edge_settings({"allow_short": True, "trailing_stop": True, "stop_loss": False})
    t = one_trade(settings, bars(rows))
    # ATR(2): 2, 2, 2, 2, then (2+4)/2 = 3 at bar 4; bar 5: TR = 4 -> 3.5; bar 6: TR = 4
    # -> 3.75. Entry at bar 5's open 99 (lowest low since: 96 -> stop min(102, 96 +
    # 3.5) = 99.5); bar 6: low 94 -> 94 + 3.75 = 97.75. Bar 7 opens 96, its high 100
    # reaches 97.75: covered at 97.75.
    assert (t.side, t.entry_price, t.exit_price) == ("short", 99.0, 97.75)
    assert t.pnl == (99.0 - 97.75) * 10


def test_an_entry_beyond_buying_power_is_cut_to_what_the_cash_buys() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5)])
    settings = edge_settings(
        {"fixed_shares": 2000, "max_position_pct": 100.0}, {"initial_cash": 100_000.0}
    )
    assert assert_same_as_engine(settings, series, 0, len(series)) == []  # still open
    # 2,000 x 101 = 202,000 > 100,000 cash: floor(100,000 / 101) = 990 shares.
    run = Kernel(series).run(settings, 0, len(series))
    assert run.position[-1] == 990.0
    assert run.equity[-1] == 100_000.0 - 990 * 101.0 + 990 * 101.5


def test_two_levels_crossed_on_one_bar_the_first_enters() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (95.0, 96.0, 94.0, 95.0)])
    t = one_trade(edge_settings(levels=[99.5, 100.0]), series)
    assert t.level == "resistance_99.5"  # the second level's signal was refused


def test_a_zero_volume_mean_passes_the_volume_rule() -> None:
    series = bars([*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (95.0, 96.0, 94.0, 95.0)], 0.0)
    t = one_trade(edge_settings(volume_multiple=2.0, volume_lookback=2), series)
    assert t.entry_price == 101.0  # 0 / 0: an infinite ratio, as the strategy has it


def test_exit_on_breakdown_off_keeps_the_position_to_the_stop() -> None:
    # Bar 6 closes under 100 (a breakdown); bar 7 opens at 99 and trades down through
    # the stop at 98.
    rows = [*QUIET, BREAKOUT, (101.0, 102.0, 100.0, 101.5), (100.0, 100.5, 98.5, 99.0)]
    rows += [(99.0, 99.5, 97.0, 97.5)]
    on = one_trade(edge_settings(), bars(rows))
    off = one_trade(edge_settings({"exit_on_breakdown": False}), bars(rows))
    assert (trade_key(on)[-1], on.exit_price) == ("signal", 99.0)  # sold at bar 7's open
    assert (trade_key(off)[-1], off.exit_price) == ("stop", 98.0)


# ------------------------------------------------------------------------------ scan


def test_scan_signals_from_the_kernel_equal_the_strategys(
    daily_series: BarSeries, minutes: BarSeries
) -> None:
    rng = random.Random(5)
    for series in (daily_series, minutes):
        kernel = Kernel(series)
        lo, hi = float(series.close.min()), float(series.close.max())
        for _ in range(25):
            cfg = LevelBreakoutConfig(
                levels=[round(rng.uniform(lo, hi), 2) for _ in range(rng.choice([0, 1, 2]))],
                confirm_closes=rng.choice([1, 2, 3]),
                volume_multiple=rng.choice([0.0, 1.0, 1.5]),
                peak_lookback_sessions=rng.choice([2, 20, 252]),
            )
            start = rng.choice([0, len(series) // 2])
            mine = kernel.signal_objects(cfg, series.symbol, start, len(series))
            theirs = scan(build_strategy(cfg), series, start).signals
            fields = ("ts", "kind", "tag", "level_value", "close", "distance_pct")
            fields += ("volume_ratio", "enters", "exits", "symbol")
            assert [[getattr(s, f) for f in fields] + [s.label()] for s in mine] == [
                [getattr(s, f) for f in fields] + [s.label()] for s in theirs
            ]
