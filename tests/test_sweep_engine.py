"""The sweep's fast scoring path against the engine of `bot backtest`.

For several combinations (stops, trailing stops, take-profit, shorts, fill at close,
commissions, RSI/ADX filters, extra levels) and several spans (the whole file, windows
that start after a long warm-up, a span inside the warm-up of the 52-week peak), the
sweep's trades, equity and position must equal those of
`run_backtest(settings, series, start, stop)`, and its metrics those of
`compute_metrics` on that result, with the idle-bar skipping on and off.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bot.config_load import ConfigError, load_settings
from bot.data.series import BarSeries
from bot.engine.backtest import run_backtest
from bot.report.runfolder import compute_metrics
from bot.settings import Settings
from bot.sweep.evaluate import Evaluator, SweepJob
from bot.sweep.metrics import METRIC_KEYS
from bot.sweep.params import SECTIONS
from bot.sweep.windows import WalkForward, make_plan

CASES: list[dict[str, Any]] = [
    {},
    {"strategy": {"confirm_closes": 1, "volume_multiple": 0}},
    {"strategy": {"confirm_closes": 1, "volume_multiple": 0}, "risk": {"take_profit_pct": 3}},
    {
        "strategy": {"confirm_closes": 1, "volume_multiple": 0, "breakout_buffer_pct": 0},
        "risk": {"stop_loss": True, "trailing_stop": True, "take_profit_pct": 8},
    },
    {
        "strategy": {"confirm_closes": 1, "volume_multiple": 0, "levels": [60, 90, 163.43]},
        "risk": {"allow_short": True, "sizing": "risk", "stop_loss": True},
    },
    {
        "strategy": {"confirm_closes": 1, "volume_multiple": 0, "peak_lookback_sessions": 20},
        "broker": {"fill_at": "close", "commission_per_share": 0.01, "commission_min": 1},
        "risk": {"exit_on_breakdown": False, "take_profit_pct": 5, "stop_loss": True},
    },
    {
        "strategy": {"volume_multiple": 0, "peak_lookback_sessions": 20, "rsi_filter": True}
        | {"adx_filter": True, "rsi_max": 60.0},
        "risk": {"trailing_stop": True, "atr_period": 5, "atr_multiple": 1.0},
    },
]
SPANS = [(0, 2872), (300, 1000), (1000, 1756), (2500, 2872), (5, 60)]
# Swept as parameters (the rest of each case is the base config).
SWEPT = ("strategy.breakdown_buffer_pct", "risk.percent_equity")
VALUES = [(1.0, 25.0), (0.5, 50.0)]


def _settings(case: dict[str, Any]) -> Settings:
    return load_settings(None, case)


def same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("skip_idle", [True, False], ids=["skip", "every-bar"])
def test_same_trades_equity_and_metrics_as_run_backtest(
    daily_series: BarSeries, case: dict[str, Any], skip_idle: bool
) -> None:
    base = _settings(case)
    sections = {n: getattr(base, n).model_dump() for n in SECTIONS}
    job = SweepJob(daily_series, base.symbol, sections, SWEPT, tuple(SPANS), "t")
    ev = Evaluator(job, skip_idle=skip_idle)
    for values in VALUES:
        over = {
            "strategy": {"breakdown_buffer_pct": values[0]},
            "risk": {"percent_equity": values[1]},
        }
        expected_settings = base.model_copy(
            update={
                "strategy": base.strategy.model_copy(update=over["strategy"]),
                "risk": base.risk.model_copy(update=over["risk"]),
            }
        )
        rows = ev.evaluate(0, values).rows
        for span, row in zip(SPANS, rows, strict=True):
            ref = run_backtest(expected_settings, daily_series, *span)
            equity, position, trades = ev.trace(values, *span)
            assert trades == ref.trades, (values, span)
            np.testing.assert_array_equal(equity, ref.equity)
            np.testing.assert_array_equal(position, ref.position)
            metrics = compute_metrics(ref)
            for key, mine in zip(METRIC_KEYS, row, strict=True):
                if key in metrics:
                    assert same(mine, metrics[key]), (key, mine, metrics[key])


def test_the_cases_trade(daily_series: BarSeries) -> None:
    """The comparison above means something only if the cases make trades of every kind."""
    exits: set[str] = set()
    sides: set[str] = set()
    total = 0
    for case in CASES:
        r = run_backtest(_settings(case), daily_series, 0, 2872)
        total += len(r.trades)
        exits |= {t.exit_reason.split(" ")[0] for t in r.trades}
        sides |= {t.side for t in r.trades}
    assert total > 50
    assert {"stop", "take-profit"} <= exits
    assert sides == {"long", "short"}


def test_rolling_windows() -> None:
    # 100 bars from 10: train 40, test 20, step 20 -> trains start 10, 30, 50; the third
    # test window is cut at bar 110 (20 bars); a fourth would start its test at 110.
    plan = make_plan(10, 110, WalkForward(40, 20, 20, anchored=False))
    assert plan.trains == ((10, 50), (30, 70), (50, 90))
    assert plan.tests == ((50, 70), (70, 90), (90, 110))
    assert plan.final == (70, 110)
    assert plan.full == (10, 110)
    assert plan.contiguous


def test_anchored_windows_and_a_short_last_test() -> None:
    plan = make_plan(0, 95, WalkForward(40, 20, 20, anchored=True))
    assert plan.trains == ((0, 40), (0, 60), (0, 80))
    assert plan.tests == ((40, 60), (60, 80), (80, 95))  # the last one has 15 bars
    assert plan.final == (0, 95)


def test_overlapping_tests_are_not_contiguous() -> None:
    plan = make_plan(0, 100, WalkForward(40, 30, 10, anchored=False))
    assert plan.tests[:2] == ((40, 70), (50, 80))
    assert not plan.contiguous


def test_too_few_bars() -> None:
    with pytest.raises(ConfigError, match="does not fit in the 41 bars"):
        make_plan(0, 41, WalkForward(40, 20, 20, anchored=False))
