"""Signals on the real BABA daily bars with the default configuration.

Facts used (from data/BABA_1d.csv, checked again below with pandas):
  2026-01-09 close 150.96; 2026-01-12 close 166.31; 2026-01-13 close 167.01, volume 18850362
  2026-02-04 close 159.14; 2026-02-05 close 157.76
  breakout threshold  163.43 * 1.01 = 165.0643
  breakdown threshold 163.43 * 0.99 = 161.7957
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import load_settings
from bot.engine.scan import scan
from strategies import build_strategy
from strategies.level_breakout import SignalKind
from strategies.level_config import LevelBreakoutConfig
from tests.conftest import DEFAULT_TOML, run, sig_date

LEVEL = 163.43
UP = 165.0643  # 163.43 * 1.01
DOWN = 161.7957  # 163.43 * 0.99
NAME = "resistance_163.43"

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def level_signals(signals, since=date(2025, 9, 1)):
    return [s for s in signals if s.level == NAME and sig_date(s) >= since]


@pytest.fixture(scope="module")
def default_signals(daily_bars):
    return run(LevelBreakoutConfig(), daily_bars)


def test_thresholds_by_hand():
    assert abs(LEVEL * 1.01 - UP) < 1e-9
    assert abs(LEVEL * 0.99 - DOWN) < 1e-9


def test_csv_rows_behind_the_expected_signals(daily_df):
    close = daily_df["close"]
    assert close["2026-01-09"] == 150.96 and close["2026-01-09"] < UP
    assert close["2026-01-12"] == 166.31 and close["2026-01-12"] > UP
    assert close["2026-01-13"] == 167.01 and close["2026-01-13"] > UP
    assert close["2026-02-04"] == 159.14 and close["2026-02-04"] < DOWN
    assert close["2026-02-05"] == 157.76 and close["2026-02-05"] < DOWN
    # no earlier pair of closes below 161.7957 between the breakout and 2026-02-04
    between = close["2026-01-13":"2026-02-03"]
    assert not ((between < DOWN) & (between.shift(-1) < DOWN)).any()
    assert close["2026-02-03"] >= DOWN


def test_default_file_is_the_code_default():
    assert load_settings(DEFAULT_TOML).strategy == LevelBreakoutConfig()


def test_breakout_and_breakdown_since_september_2025(default_signals):
    sigs = level_signals(default_signals)
    assert [(s.kind, sig_date(s)) for s in sigs] == [
        (SignalKind.BREAKOUT, date(2026, 1, 13)),
        (SignalKind.BREAKDOWN, date(2026, 2, 5)),
    ]
    out, down = sigs
    assert out.level_value == LEVEL and down.level_value == LEVEL
    assert out.close == 167.01 and down.close == 157.76
    assert out.distance_pct == pytest.approx((167.01 / 163.43 - 1) * 100, rel=1e-12)  # +2.1905
    assert down.distance_pct == pytest.approx((157.76 / 163.43 - 1) * 100, rel=1e-12)  # -3.4694
    assert "166.31, 167.01" in out.reason
    assert "159.14, 157.76" in down.reason


def test_breakout_volume_ratio_from_csv(default_signals, daily_df):
    vol = daily_df["volume"]
    window = vol["2025-12-12":"2026-01-12"]
    assert len(window) == 20  # the 20 sessions before 2026-01-13
    expected = 18850362 / window.mean()
    assert vol["2026-01-13"] == 18850362
    assert expected == pytest.approx(1.73, abs=0.005)
    assert expected >= 1.5
    (out,) = [s for s in level_signals(default_signals) if s.kind == SignalKind.BREAKOUT]
    assert out.volume_ratio == pytest.approx(expected, rel=1e-12)
    assert "volume 1.7x the 20-bar mean" in out.reason


def _peak_candidates(df, confirm):
    """Independent: days whose last `confirm` closes each beat their own bar's 252-session
    peak (max high of the prior 252 sessions) by 1 % and whose volume is >= 1.5x the mean
    of the 20 sessions before it."""
    peak = df["high"].rolling(252).max().shift(1)
    above = df["close"] > peak * 1.01
    run = above.copy()
    for k in range(1, confirm):
        run &= above.shift(k, fill_value=False)
    vol_ratio = df["volume"] / df["volume"].rolling(20).mean().shift(1)
    return run & (vol_ratio >= 1.5), peak


def test_no_52w_peak_signal_since_september_2025(default_signals, daily_df):
    cand, _ = _peak_candidates(daily_df, confirm=2)
    assert not cand["2025-09-01":].any()
    recent = [s for s in default_signals if sig_date(s) >= date(2025, 9, 1)]
    assert [s for s in recent if s.level == "peak_52w"] == []


def test_one_close_52w_peak_breakout_in_september_2025(daily_bars, daily_df):
    one_close = run(LevelBreakoutConfig(confirm_closes=1), daily_bars)
    sigs = [s for s in one_close if s.level == "peak_52w"]
    before = [s for s in sigs if sig_date(s) < date(2025, 9, 1)]
    assert before[-1].kind == SignalKind.BREAKDOWN  # so the level is BELOW on 2025-09-01
    cand, peak = _peak_candidates(daily_df, confirm=1)
    first = cand["2025-09-01":].idxmax()
    assert cand[first]
    after = [s for s in sigs if sig_date(s) >= date(2025, 9, 1)]
    assert after[0].kind == SignalKind.BREAKOUT
    assert sig_date(after[0]) == first.date()
    assert after[0].level_value == peak[first]
    assert after[0].close == daily_df["close"][first]


def test_one_confirming_close_breaks_out_on_2026_01_12(daily_bars, daily_df):
    vol = daily_df["volume"]
    ratio = vol["2026-01-12"] / vol["2025-12-11":"2026-01-09"].mean()
    assert len(vol["2025-12-11":"2026-01-09"]) == 20
    assert ratio >= 1.5  # 35379014 / mean -> the volume filter passes on the first close
    cfg = LevelBreakoutConfig(confirm_closes=1)
    sigs = level_signals(run(cfg, daily_bars), since=date(2026, 1, 1))
    out = [s for s in sigs if s.kind == SignalKind.BREAKOUT]
    assert sig_date(out[0]) == date(2026, 1, 12)
    assert out[0].close == 166.31
    assert out[0].volume_ratio == pytest.approx(ratio, rel=1e-12)
    assert "1 close above 163.43" in out[0].reason and "(166.31)" in out[0].reason
    # the first close below 161.7957 after the breakout is the breakdown
    after = daily_df["close"]["2026-01-13":]
    first_below = after[after < DOWN].index[0].date()
    downs = [s for s in sigs if s.kind == SignalKind.BREAKDOWN]
    assert sig_date(downs[0]) == first_below


def test_scan_with_from_keeps_only_the_range(daily_series):
    settings = load_settings(DEFAULT_TOML)
    lo = daily_series.index_of("2025-09-01")
    result = scan(build_strategy(settings.strategy), daily_series, lo)
    assert [(s.level, sig_date(s)) for s in result.signals] == [
        (NAME, date(2026, 1, 13)),
        (NAME, date(2026, 2, 5)),
    ]
    assert result.bars_fed == len(daily_series)


def test_cli_signals_json(restore_root_logging):
    result = CliRunner().invoke(app, ["signals", "--format", "json", "--from", "2025-09-01"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    rows = [json.loads(ln) for ln in lines]
    assert len(rows) == 2
    for row in rows:
        assert {"time", "kind", "level", "level_value", "close", "reason"} <= row.keys()
    out, down = rows
    assert pd.Timestamp(out["time"]) == pd.Timestamp("2026-01-13", tz="America/New_York")
    assert out["kind"] == "breakout" and out["level"] == NAME
    assert out["level_value"] == LEVEL and out["close"] == 167.01
    assert "166.31, 167.01" in out["reason"]
    assert pd.Timestamp(down["time"]) == pd.Timestamp("2026-02-05", tz="America/New_York")
    assert down["kind"] == "breakdown" and down["level"] == NAME
    assert down["level_value"] == LEVEL and down["close"] == 157.76
    assert "159.14, 157.76" in down["reason"]


def test_cli_signals_json_to_date_cuts_the_range(restore_root_logging):
    args = ["signals", "--format", "json", "--from", "2025-09-01", "--to", "2026-02-04"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(ln) for ln in result.stdout.splitlines() if ln.strip()]
    assert [(r["kind"], r["time"][:10]) for r in rows] == [("breakout", "2026-01-13")]
