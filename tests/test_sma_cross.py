"""The moving-average crossover (strategies/sma_cross.py), a strategy with no levels.

Its crossovers on the bundled daily bars are checked against an independent pandas
computation (rolling means, the sign of their difference, a change of sign), and it runs
in every command with `[strategy] name = "sma_cross"`: `bot signals`, `bot backtest`
(chart included), `bot sweep` over its two windows (in process, with typer's CliRunner)
and `bot paper --fresh` against the in-process emulator (a subprocess: slow).

On the bundled bars from 2025-09-01 (the paper replay), SMA(10) vs SMA(30) crosses down
on 2025-10-21 (flat and long-only: nothing), up on 2026-01-13 (buy at the 2026-01-14
open) and down on 2026-02-12 (sell at the 2026-02-13 open).
"""

from __future__ import annotations

import csv
import json
import tomllib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import ConfigError, load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.engine.backtest import run_backtest
from bot.models import Direction
from bot.report.chart import build_figure
from bot.report.runfolder import compute_metrics
from bot.sweep.spec import load_sweep
from strategies import build_strategy
from strategies.sma_cross import SmaCross, SmaCrossConfig, SmaSignal
from tests.conftest import DAILY_CSV, DEFAULT_TOML, sig_date
from tests.test_paper_support import bot_env, run_bot

REPLAY = [
    (date(2025, 10, 21), "cross_down"),
    (date(2026, 1, 13), "cross_up"),
    (date(2026, 2, 12), "cross_down"),
]


def sma_toml(folder: Path, fast: int = 10, slow: int = 30, extra: str = "") -> Path:
    """The tests' base config with its [strategy] table replaced by the crossover's."""
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    head, rest = text.split("[strategy]\n", 1)
    table = f'[strategy]\nname = "sma_cross"\nfast = {fast}\nslow = {slow}\n{extra}\n'
    path = folder / "sma.toml"
    path.write_text(head + table + rest[rest.index("[data]") :], encoding="utf-8")
    return path


def pandas_crossovers(df: pd.DataFrame, fast: int, slow: int) -> list[tuple[str, str]]:
    """(date, kind) where the sign of SMA(fast) - SMA(slow) changes; equal averages keep
    the sign before them; the first sign after warm-up is no crossover."""
    diff = df["close"].rolling(fast).mean() - df["close"].rolling(slow).mean()
    sign = np.sign(diff).replace(0.0, np.nan).ffill()
    cross = sign.ne(sign.shift()) & sign.notna() & sign.shift().notna()
    return [
        (str(day)[:10], "cross_up" if sign[day] > 0 else "cross_down") for day in df.index[cross]
    ]


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (20, 50), (5, 20), (1, 2)])
def test_crossovers_equal_pandas(daily_bars, daily_df, fast: int, slow: int) -> None:
    strat = SmaCross(SmaCrossConfig(fast=fast, slow=slow))
    signals = [s for bar in daily_bars for s in strat.on_bar(bar)]
    got = [(sig_date(s).isoformat(), s.kind) for s in signals]
    expected = pandas_crossovers(daily_df, fast, slow)
    assert len(expected) > 10
    assert got == expected
    # the averages each signal reports are pandas' rolling means on its bar
    close = daily_df["close"]
    fast_mean, slow_mean = close.rolling(fast).mean(), close.rolling(slow).mean()
    for s in signals:
        assert isinstance(s, SmaSignal)
        day = pd.Timestamp(sig_date(s))
        assert s.fast_sma == pytest.approx(fast_mean[day], rel=1e-12)
        assert s.slow_sma == pytest.approx(slow_mean[day], rel=1e-12)


def test_no_look_ahead(daily_bars) -> None:
    """Cut the bars anywhere: the signals up to the cut are the same."""
    whole = SmaCross(SmaCrossConfig())
    full = [s for bar in daily_bars for s in whole.on_bar(bar)]
    for cut in (31, 500, 1234, 2000):
        strat = SmaCross(SmaCrossConfig())
        part = [s for bar in daily_bars[:cut] for s in strat.on_bar(bar)]
        assert part == [s for s in full if s.ts <= daily_bars[cut - 1].ts]


def test_intent_tag_and_order_id(daily_bars) -> None:
    strat = SmaCross(SmaCrossConfig(fast=10, slow=30))
    signals = [s for bar in daily_bars for s in strat.on_bar(bar)]
    up = next(s for s in signals if s.kind == "cross_up")
    down = next(s for s in signals if s.kind == "cross_down")
    assert (up.enters, up.exits) == (Direction.LONG, Direction.SHORT)
    assert (down.enters, down.exits) == (Direction.SHORT, Direction.LONG)
    assert up.tag == down.tag == "sma_10_30" and up.id_prefix == "sma"
    assert up.as_dict()["fast_sma"] == round(up.fast_sma, 4)
    assert up.label().startswith("cross_up sma_10_30 (")


def test_warm_up_and_status(daily_bars) -> None:
    strat = SmaCross(SmaCrossConfig(fast=3, slow=5))
    assert strat.warmup_bars() == 6
    for bar in daily_bars[:4]:
        assert strat.on_bar(bar) == ()
    fast, slow = strat.status().rows
    assert fast.value is not None and fast.side in ("ABOVE", "BELOW")
    assert (slow.value, slow.side, slow.distance_pct) == (None, "WARMING_UP", None)
    for bar in daily_bars[4:40]:
        strat.on_bar(bar)
    status = strat.status()
    closes = [b.close for b in daily_bars[:40]]
    assert status.subject == "average"
    assert status.rows[0].value == pytest.approx(round(sum(closes[-3:]) / 3, 4))
    assert status.rows[1].value == pytest.approx(round(sum(closes[-5:]) / 5, 4))
    assert "since" in status.rows[0].note


def test_config_is_the_registrys_model(tmp_path: Path) -> None:
    settings = load_settings(sma_toml(tmp_path, 7, 21))
    assert isinstance(settings.strategy, SmaCrossConfig)
    assert (settings.strategy.fast, settings.strategy.slow) == (7, 21)
    assert isinstance(build_strategy(settings.strategy), SmaCross)
    assert settings.redacted()["strategy"] == {"name": "sma_cross", "fast": 7, "slow": 21}


@pytest.mark.parametrize(
    ("fast", "slow", "extra", "field", "why"),
    [
        (30, 10, "", "strategy", "slow (10) must be greater than fast (30)"),
        (10, 10, "", "strategy", "slow (10) must be greater than fast (10)"),
        (10, 30, "levels = [163.43]", "strategy.levels", "unknown key"),
        (0, 30, "", "strategy.fast", "greater than or equal to 1"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_field(
    tmp_path: Path, fast: int, slow: int, extra: str, field: str, why: str
) -> None:
    path = sma_toml(tmp_path, fast, slow, extra)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    (line,) = str(err.value).splitlines()[1:]
    assert line.startswith(f"  {path}: {field}: ") and why in line


def test_unknown_strategy_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[strategy]\nname = "sma_crossover"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert f"{path}: strategy.name: unknown strategy 'sma_crossover'" in str(err.value)
    assert "level_breakout, sma_cross" in str(err.value)


# ---------------------------------------------------------------- bot signals


@pytest.mark.usefixtures("restore_root_logging")
def test_bot_signals(tmp_path: Path) -> None:
    config = sma_toml(tmp_path)
    args = ["signals", "--config", str(config), "--from", "2025-09-01"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(ln) for ln in result.stdout.splitlines() if ln.strip()]
    assert [(r["time"][:10], r["kind"]) for r in rows] == [(d.isoformat(), k) for d, k in REPLAY]
    assert {r["strategy"] for r in rows} == {"sma_cross"} and rows[1]["tag"] == "sma_10_30"
    assert rows[1]["close"] == 167.01 and "crossed above SMA(30)" in rows[1]["reason"]

    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "SMA(10) vs SMA(30) of closes" in table.stdout  # describe()
    assert "3 signal(s)" in table.stdout and "cross_up" in table.stdout
    assert "below SMA(30) since 2026-02-12" in table.stdout  # the status


# ---------------------------------------------------------------- bot backtest


@pytest.mark.usefixtures("restore_root_logging")
def test_bot_backtest_writes_the_chart_with_both_averages(
    tmp_path: Path, daily_series: BarSeries, daily_df: pd.DataFrame
) -> None:
    config, out = sma_toml(tmp_path), tmp_path / "run"
    result = CliRunner().invoke(
        app, ["backtest", "--config", str(config), "--from", "2025-09-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = (out / "chart.html").read_text(encoding="utf-8")
    assert "SMA(10)" in html and "SMA(30)" in html and "sma_cross" in html
    with (out / "signals.csv").open(encoding="utf-8") as fh:
        signals = list(csv.DictReader(fh))
    assert list(signals[0]) == [
        "time",
        "kind",
        "fast_sma",
        "slow_sma",
        "close",
        "gap_pct",
        "reason",
    ]
    assert [(s["time"][:10], s["kind"]) for s in signals] == [(d.isoformat(), k) for d, k in REPLAY]
    with (out / "trades.csv").open(encoding="utf-8") as fh:
        (trade,) = list(csv.DictReader(fh))
    assert (trade["entry_time"][:10], trade["exit_time"][:10]) == ("2026-01-14", "2026-02-13")
    assert trade["level"] == "sma_10_30"

    # the figure's averages are pandas' rolling means over the traded bars
    settings = load_settings(config)
    lo = daily_series.index_of("2025-09-01")
    bt = run_backtest(settings, daily_series, lo)
    fig = build_figure(bt)
    for n in (10, 30):
        (trace,) = [t for t in fig.data if t.name == f"SMA({n})"]
        expected = daily_df["close"].rolling(n).mean().to_numpy()[lo:]
        np.testing.assert_allclose(np.asarray(trace.y, dtype=float), expected, rtol=1e-12)
        assert trace.yaxis == "y"  # on the price panel
    ids = [i.client_order_id for i in bt.record.intents]
    assert ids == ["sma-BABA-sma_10_30-20260113T0000-buy", "sma-BABA-sma_10_30-20260212T0000-sell"]
    (refused,) = bt.record.rejections
    assert refused.what == "cross_down sma_10_30"
    assert refused.reason == "long-only: a cross_down while flat opens nothing"


def test_shorts_only_with_allow_short(tmp_path: Path, daily_series: BarSeries) -> None:
    """A cross is one decision: the January cross up covers the October short (the same
    tag), the February cross down shorts again; long-only, the October one opened nothing."""
    config = sma_toml(tmp_path)
    lo = daily_series.index_of("2025-09-01")
    bt = run_backtest(load_settings(config, {"risk": {"allow_short": True}}), daily_series, lo)
    (short,) = bt.trades
    assert short.side == "short" and short.level == "sma_10_30"
    assert (short.entry_time.date(), short.exit_time.date()) == (
        date(2025, 10, 22),
        date(2026, 1, 14),
    )
    assert [i.client_order_id for i in bt.record.intents] == [
        "sma-BABA-sma_10_30-20251021T0000-short",
        "sma-BABA-sma_10_30-20260113T0000-cover",
        "sma-BABA-sma_10_30-20260212T0000-short",
    ]
    assert bt.position[-1] < 0


# ---------------------------------------------------------------- bot sweep


@pytest.mark.usefixtures("restore_root_logging")
def test_bot_sweep_over_both_windows(tmp_path: Path) -> None:
    config = sma_toml(tmp_path)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'base_config = "{config.as_posix()}"\n'
        f'[data]\npath = "{DAILY_CSV.as_posix()}"\nfrom = 2019-01-02\nto = 2021-12-31\n'
        '[parameters]\n"strategy.fast" = [5, 10]\n"strategy.slow" = {start = 20, stop = 40, '
        "step = 10}\n[walk_forward]\ntrain_bars = 250\ntest_bars = 125\n",
        encoding="utf-8",
    )
    out, chosen = tmp_path / "out", tmp_path / "chosen.toml"
    args = ["sweep", str(sweep), "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--write-config", str(chosen), "--force"])
    assert result.exit_code == 0, result.output + result.stderr
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    got = {(int(r["strategy.fast"]), int(r["strategy.slow"])) for r in rows}
    assert got == {(f, s) for f in (5, 10) for s in (20, 30, 40)}
    # a row's whole-range figures are `bot backtest`'s for that set
    row = next(r for r in rows if (r["strategy.fast"], r["strategy.slow"]) == ("5", "20"))
    settings = load_settings(config, {"strategy": {"fast": 5, "slow": 20}})
    bars = load_csv(DAILY_CSV).bars
    lo, hi = bars.index_of("2019-01-02"), bars.index_of("2021-12-31T23:59", side="right")
    metrics = compute_metrics(run_backtest(settings, bars, lo, hi))
    assert float(row["full_final_equity"]) == pytest.approx(metrics["final_equity"], rel=1e-12)
    assert int(float(row["full_trades"])) == metrics["trades"]
    written = tomllib.loads(chosen.read_text(encoding="utf-8"))["strategy"]
    assert written["name"] == "sma_cross" and {"fast", "slow"} <= written.keys()
    assert isinstance(load_settings(chosen).strategy, SmaCrossConfig)


def test_sweep_refuses_the_other_strategys_keys(tmp_path: Path) -> None:
    config = sma_toml(tmp_path)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'base_config = "{config.as_posix()}"\n[parameters]\n"strategy.confirm_closes" = [1, 2]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_sweep(sweep)
    msg = str(err.value)
    assert "unknown parameter strategy.confirm_closes" in msg
    assert "the base config's strategy is 'sma_cross'" in msg


# ---------------------------------------------------------------- bot paper


@pytest.mark.slow  # the real `bot paper` in a subprocess, alpaca-py over HTTP to the emulator
def test_bot_paper_fresh_replay(tmp_path: Path, daily_series: BarSeries) -> None:
    config, state = sma_toml(tmp_path), tmp_path / "state"
    proc = run_bot(
        ["paper", "--fresh", "--config", config, "--state-dir", state], bot_env(tmp_path / "logs")
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "2026-01-13 SIGNAL cross_up sma_10_30 (154.23 vs 154.12): SMA(10) 154.23" in out
    assert "client order id sma-BABA-sma_10_30-20260113T0000-buy" in out
    assert "FILL   sell 149 @ 152.77 (sma-BABA-sma_10_30-20260212T0000-sell)" in out
    # the same trade as the backtest of that range
    lo = daily_series.index_of("2025-09-01")
    (trade,) = run_backtest(load_settings(config), daily_series, lo).trades
    assert f"TRADE  long {trade.qty:g}: 2026-01-14 @ {trade.entry_price:.2f}" in out
    assert f"-> 2026-02-13 @ {trade.exit_price:.2f}, P&L {trade.pnl:+,.2f}" in out
    status = run_bot(["status", "--config", config, "--state-dir", state], bot_env(tmp_path))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "SMA(30)" in status.stdout and "cross_down sma_10_30" in status.stdout
