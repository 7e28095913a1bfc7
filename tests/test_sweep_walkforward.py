"""Walk-forward choices: recomputed independently, and blind to the test windows.

The expected choice per window is computed here with `run_backtest` + `compute_metrics`
on each combination's `load_settings` config and a plain max over the objective, not
with the sweep's selection code. The leakage test rewrites every bar from a test
window on (prices scaled by random factors) and checks that the choices, and every
in-sample figure, of the train windows before it are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.engine.backtest import run_backtest
from bot.report.runfolder import compute_metrics
from bot.sweep.run import Options, Outcome, run_sweep
from bot.sweep.select import judge
from tests.conftest import DAILY_CSV

SWEEP = """
objective = "{objective}"
[data]
path = "{data}"
from = 2019-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2]
"strategy.volume_multiple" = [0.0, 1.5]
"strategy.breakout_buffer_pct" = [0.5, 1.5]
[constraints]
min_trades = {min_trades}
[walk_forward]
train_bars = 250
test_bars = 125
"""


def sweep(tmp_path: Path, data: Path = DAILY_CSV, name: str = "s", **fmt: object) -> Outcome:
    fields: dict[str, object] = {"objective": "sharpe", "min_trades": 0} | fmt
    path = tmp_path / f"{name}.toml"
    path.write_text(SWEEP.format(data=data.as_posix(), **fields), encoding="utf-8")
    return run_sweep(path, Options(out=tmp_path / f"out-{name}", workers=1))


def combos() -> list[dict[str, dict[str, float]]]:
    return [
        {"strategy": {"confirm_closes": c, "volume_multiple": v, "breakout_buffer_pct": b}}
        for c in (1, 2)
        for v in (0.0, 1.5)
        for b in (0.5, 1.5)
    ]


@pytest.mark.parametrize(("objective", "key", "min_trades"), [
    ("sharpe", "sharpe", 0),
    ("total_return", "total_return_pct", 2),
])  # fmt: skip
def test_choices_match_an_independent_walk_forward(
    tmp_path: Path, objective: str, key: str, min_trades: int
) -> None:
    outcome = sweep(tmp_path, objective=objective, min_trades=min_trades)
    series = load_csv(DAILY_CSV).bars
    lo = series.index_of("2019-01-02")
    hi = series.index_of("2021-12-31T23:59", side="right")
    settings = [load_settings(None, c) for c in combos()]
    windows = []
    start = lo
    while start + 250 + 2 <= hi:
        windows.append(((start, start + 250), (start + 250, min(start + 375, hi))))
        start += 125
    assert len(outcome.choices) == len(windows) + 1 and len(windows) >= 4
    for k, (train, test) in enumerate(windows):
        scores = []
        for i, s in enumerate(settings):
            m = compute_metrics(run_backtest(s, series, *train))
            value = m[key]
            if value is not None and int(m["trades"] or 0) >= min_trades:
                scores.append((float(value), -i))
        choice = outcome.choices[k]
        assert (choice.train, choice.test) == (train, test)
        if not scores:
            assert choice.index is None
            continue
        best_value, neg_index = max(scores)
        assert choice.index == -neg_index, k
        assert choice.is_objective == pytest.approx(best_value, rel=1e-12)
        oos = compute_metrics(run_backtest(settings[-neg_index], series, *test))[key]
        assert choice.oos_objective == (None if oos is None else pytest.approx(oos, rel=1e-12))
    assert any(c.index is not None for c in outcome.choices)


def _perturbed_csv(tmp_path: Path, first: pd.Timestamp) -> Path:
    df = pd.read_csv(DAILY_CSV)
    when = pd.to_datetime(df["timestamp"])
    later = (when >= first.tz_localize(None)).to_numpy()
    factor = np.random.default_rng(3).uniform(0.6, 1.4, int(later.sum()))
    for col in ("open", "high", "low", "close"):
        df.loc[later, col] = df.loc[later, col].to_numpy() * factor
    path = tmp_path / "perturbed.csv"
    df.to_csv(path, index=False)
    return path


def test_test_window_data_never_reaches_the_train_choice(tmp_path: Path) -> None:
    clean = sweep(tmp_path, name="clean")
    plan = clean.prep.plan
    k = 2  # perturb from the first bar of window 2's test window to the end of the file
    first = pd.Timestamp(int(clean.prep.series.ts[plan.tests[k][0]]), tz="UTC").tz_convert(
        "America/New_York"
    )
    dirty = sweep(tmp_path, data=_perturbed_csv(tmp_path, first), name="dirty")
    assert dirty.prep.plan == plan
    for j in range(k + 1):  # every train window up to and including window k
        assert dirty.choices[j].index == clean.choices[j].index, j
        run = plan.train_run(j)
        for a, b in zip(clean.results, dirty.results, strict=True):
            assert a.rows[run] == b.rows[run], (j, a.index)
    # The perturbation did change what followed, so the check above is not vacuous.
    test_run = plan.test_run(k)
    pairs = zip(clean.results, dirty.results, strict=True)
    assert any(a.rows[test_run] != b.rows[test_run] for a, b in pairs)


def test_flag_rule() -> None:
    assert judge(1.0, -0.1, "sharpe") == "collapsed"  # OOS below zero while IS above
    assert judge(1.0, 0.4, "sharpe") == "collapsed"  # OOS under half of IS
    assert judge(1.0, 0.6, "sharpe") == "ok"
    assert judge(-0.5, -2.0, "sharpe") == "lost"  # nothing to collapse from, but lost
    assert judge(-0.5, 0.2, "sharpe") == "ok"  # no edge in sample, none lost after
    assert judge(1.0, None, "sharpe") is None
    assert judge(3.0, 1.8, "profit_factor") == "collapsed"  # edge over 1: 0.8 < 0.5 x 2.0
    assert judge(3.0, 2.2, "profit_factor") == "ok"
    assert judge(1.5, 0.9, "profit_factor") == "collapsed"  # a loser out of sample
    assert judge(0.8, 0.9, "profit_factor") == "lost"  # losing trades on both sides
    # total_return: a window that lost money in and out of sample is not "ok"
    assert judge(-3.0, -1.0, "total_return") == "lost"
    assert judge(0.0, -1.0, "total_return") == "lost"  # flat in sample, then a loss
    assert judge(-3.0, 0.0, "total_return") == "ok"
    assert judge(10.0, 4.0, "total_return") == "collapsed"
