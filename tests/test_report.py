"""Metrics on hand-built curves (expectations worked out by hand) and the run folder
written from a real BABA backtest."""

from __future__ import annotations

import csv
import json
import math
import statistics
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.engine.backtest import BacktestResult, run_backtest
from bot.models import Trade
from bot.report.runfolder import compute_metrics, metrics_from_equity, metrics_table, write_run

ROOT = Path(__file__).resolve().parents[1]
ALL_KEYS = {
    "start", "end", "bars", "initial_cash", "final_equity", "total_return_pct", "cagr_pct",
    "volatility_pct", "sharpe", "sortino", "max_drawdown_pct", "max_drawdown_duration_bars",
    "max_drawdown_duration_days", "trades", "win_rate_pct", "profit_factor", "avg_win",
    "avg_loss", "exposure_pct", "buy_hold_return_pct", "buy_hold_cagr_pct",
}  # fmt: skip


def _curve(values: list[float], dates: list[str]) -> pd.Series:
    idx = pd.DatetimeIndex(pd.to_datetime(dates)).tz_localize("America/New_York")
    return pd.Series(values, index=idx, dtype="float64")


def _trade(pnl: float) -> Trade:
    return Trade("long", 10.0, 0, 100.0, 1, 100.0 + pnl / 10, pnl, 0.0, "in", "out", "x")


# Wed..Fri, then Mon..Wed: 6 bars over 7 calendar days, a weekend inside the drawdown.
DATES = ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10"]
EQUITY = [100.0, 110.0, 99.0, 121.0, 121.0, 133.1]


def test_metrics_of_a_hand_built_curve() -> None:
    position = np.array([0, 10, 10, 0, -5, 0], dtype=float)
    close = np.array([50.0, 55.0, 49.5, 60.0, 60.0, 66.0])
    trades = [_trade(30.0), _trade(-20.0), _trade(10.0)]
    m = metrics_from_equity(_curve(EQUITY, DATES), trades, position, close, 252.0, 100.0)

    # Per-bar returns: 110/100-1, 99/110-1, 121/99-1, 121/121-1, 133.1/121-1.
    r = [0.1, -0.1, 22 / 99, 0.0, 0.1]
    mean, stdev = statistics.mean(r), statistics.stdev(r)  # 0.064444..., 0.121055...
    downside = math.sqrt((-0.1) ** 2 / 5)  # only one losing bar, averaged over all five
    assert m["bars"] == 6
    assert m["start"] == "2024-01-03T00:00:00-05:00"
    assert m["end"] == "2024-01-10T00:00:00-05:00"
    assert m["initial_cash"] == 100.0
    assert m["final_equity"] == pytest.approx(133.1)
    assert m["total_return_pct"] == pytest.approx(33.1)
    assert m["cagr_pct"] == pytest.approx((1.331 ** (365.25 / 7) - 1) * 100)
    assert m["volatility_pct"] == pytest.approx(stdev * math.sqrt(252) * 100)
    assert m["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(8.4509, abs=1e-4)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert m["sortino"] == pytest.approx(22.8755, abs=1e-4)
    # 110 -> 99 is the only fall: -10%, from Thu 01-04 until back above 110 on Mon 01-08.
    assert m["max_drawdown_pct"] == pytest.approx(-10.0)
    assert m["max_drawdown_duration_bars"] == 2
    assert m["max_drawdown_duration_days"] == pytest.approx(4.0)
    # Trades +30, -20, +10.
    assert m["trades"] == 3
    assert m["win_rate_pct"] == pytest.approx(200 / 3)
    assert m["profit_factor"] == pytest.approx(40 / 20)
    assert m["avg_win"] == pytest.approx(20.0)
    assert m["avg_loss"] == pytest.approx(-20.0)
    # Not flat on 3 of 6 bars (a short counts as exposure too).
    assert m["exposure_pct"] == pytest.approx(50.0)
    # 50 -> 66 held.
    assert m["buy_hold_return_pct"] == pytest.approx(32.0)
    assert m["buy_hold_cagr_pct"] == pytest.approx((1.32 ** (365.25 / 7) - 1) * 100)
    assert set(m) == ALL_KEYS
    json.dumps(m)  # plain floats and ints only


def test_longest_drawdown_is_not_the_deepest_one() -> None:
    # -10% for 2 bars (0 -> 2), then a -5% stretch from bar 2 (100) to bar 7 (101): 5 bars.
    dates = [f"2024-03-0{d}" for d in range(1, 9)]
    eq = [100.0, 90.0, 100.0, 95.0, 96.0, 97.0, 98.0, 101.0]
    flat = np.zeros(len(eq))
    m = metrics_from_equity(_curve(eq, dates), [], flat, np.full(len(eq), 10.0), 252.0, 100.0)
    assert m["max_drawdown_pct"] == pytest.approx(-10.0)
    assert m["max_drawdown_duration_bars"] == 5
    assert m["max_drawdown_duration_days"] == pytest.approx(5.0)  # 03-03 -> 03-08


def test_drawdown_never_recovered_runs_to_the_end() -> None:
    eq = [100.0, 120.0, 90.0, 100.0]
    dates = ["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06"]
    # Started with 80: the first bar already made 20 (a fill on that bar).
    m = metrics_from_equity(_curve(eq, dates), [], np.zeros(4), np.full(4, 1.0), 252.0, 80.0)
    assert m["total_return_pct"] == pytest.approx(25.0)  # 100 / 80 - 1
    assert m["max_drawdown_pct"] == pytest.approx(-25.0)  # 90 / 120 - 1
    assert m["max_drawdown_duration_bars"] == 2  # peak at bar 1, still under at bar 3
    assert m["max_drawdown_duration_days"] == pytest.approx(2.0)


def test_flat_curve_has_no_ratios_and_no_trade_stats() -> None:
    dates = ["2024-03-01", "2024-03-04", "2024-03-05"]
    m = metrics_from_equity(_curve([50.0] * 3, dates), [], np.zeros(3), np.ones(3), 252.0, 50.0)
    assert m["sharpe"] is None
    assert m["sortino"] is None
    assert m["volatility_pct"] == 0.0
    assert m["max_drawdown_pct"] == 0.0
    assert m["max_drawdown_duration_bars"] == 0
    assert m["trades"] == 0
    assert m["win_rate_pct"] is None
    assert m["profit_factor"] is None
    assert m["avg_win"] is None and m["avg_loss"] is None
    assert m["exposure_pct"] == 0.0


def test_only_winners_have_no_profit_factor() -> None:
    dates = ["2024-03-01", "2024-03-04"]
    m = metrics_from_equity(
        _curve([100.0, 105.0], dates), [_trade(5.0)], np.zeros(2), np.ones(2), 252.0, 100.0
    )
    assert m["profit_factor"] is None
    assert m["win_rate_pct"] == 100.0
    assert m["avg_loss"] is None
    assert m["sharpe"] is None  # one return: no standard deviation


def test_equity_at_zero_or_below_gives_no_return_from_there() -> None:
    dates = ["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06"]
    eq = [100.0, 50.0, 0.0, -10.0]  # a short squeezed past the account
    m = metrics_from_equity(_curve(eq, dates), [], np.ones(4), np.ones(4), 252.0, 100.0)
    assert m["total_return_pct"] == pytest.approx(-110.0)
    assert m["cagr_pct"] == -100.0
    assert m["max_drawdown_pct"] == pytest.approx(-110.0)
    # Returns -0.5 and -1.0 only: from 0 to -10 is no return at all.
    r = [-0.5, -1.0]
    assert m["sharpe"] == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(252))


def test_a_zero_pnl_trade_is_neither_win_nor_loss() -> None:
    dates = ["2024-03-01", "2024-03-04"]
    trades = [_trade(6.0), _trade(0.0), _trade(-3.0)]
    m = metrics_from_equity(
        _curve([100.0, 103.0], dates), trades, np.zeros(2), np.ones(2), 252, 100
    )
    assert m["trades"] == 3
    assert m["win_rate_pct"] == pytest.approx(100 / 3)
    assert m["avg_win"] == 6.0 and m["avg_loss"] == -3.0
    assert m["profit_factor"] == pytest.approx(2.0)


@pytest.fixture
def baba() -> BacktestResult:
    # Function scope (a backtest takes milliseconds) so conftest's BOT_* cleanup applies.
    s = load_settings(None, {"risk": {"sizing": "fixed_shares"}, "broker": {"slippage_bps": 0}})
    return run_backtest(s, load_csv(ROOT / "data" / "BABA_1d.csv").bars)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_write_run_on_the_baba_backtest(baba: BacktestResult, tmp_path: Path) -> None:
    files = write_run(baba, tmp_path / "run")
    assert set(files) == {"metrics", "trades", "equity", "signals", "rejections", "chart"}
    assert all(p.exists() for p in files.values())

    trades = _rows(files["trades"])
    assert list(trades[0]) == [
        "entry_time", "entry_price", "exit_time", "exit_price", "qty", "side", "pnl",
        "commission", "return_pct", "level", "entry_reason", "exit_reason",
    ]  # fmt: skip
    last = trades[-1]
    assert last["entry_time"] == "2026-01-14T00:00:00-05:00"
    assert last["exit_time"] == "2026-02-06T00:00:00-05:00"
    assert float(last["entry_price"]) == 171.57  # 2026-01-14 open (fill on the next open)
    assert float(last["exit_price"]) == 160.46  # 2026-02-06 open
    assert float(last["qty"]) == 100
    assert float(last["pnl"]) == pytest.approx((160.46 - 171.57) * 100, abs=0.005)  # -1111.00
    assert float(last["return_pct"]) == pytest.approx((160.46 / 171.57 - 1) * 100, abs=1e-4)
    assert last["level"] == "resistance_163.43"
    assert "166.31, 167.01" in last["entry_reason"]

    m = json.loads(files["metrics"].read_text(encoding="utf-8"))
    assert set(m) >= ALL_KEYS
    # Three long round trips of 100 shares, flat at the end:
    # (92.00-92.98) + (92.68-111.72) + (160.46-171.57), x 100 = -98 - 1904 - 1111.
    assert m["final_equity"] == pytest.approx(100_000 - 3113)
    assert m["total_return_pct"] == pytest.approx(-3.113)
    assert m["trades"] == 3 and m["win_rate_pct"] == 0.0 and m["avg_win"] is None
    assert m["buy_hold_return_pct"] == pytest.approx((154.45 / 93.89 - 1) * 100)  # closes
    assert m["bars"] == 2872

    equity = _rows(files["equity"])
    assert len(equity) == 2872
    assert list(equity[0]) == ["time", "equity", "position", "close", "drawdown_pct"]
    assert equity[0]["time"] == "2014-09-19T00:00:00-04:00"  # summer time offset
    assert datetime.fromisoformat(equity[-1]["time"]).utcoffset() is not None
    assert float(equity[-1]["equity"]) == pytest.approx(96887.0)
    held = next(r for r in equity if r["time"].startswith("2026-01-14"))
    assert held["time"] == "2026-01-14T00:00:00-05:00"  # winter time
    assert float(held["position"]) == 100 and float(held["close"]) == 169.9
    assert min(float(r["drawdown_pct"]) for r in equity) == pytest.approx(m["max_drawdown_pct"])

    signals = _rows(files["signals"])
    assert list(signals[0]) == [
        "time", "kind", "level", "level_value", "close", "distance_pct", "volume_ratio", "reason"
    ]  # fmt: skip
    confirm = [s for s in signals if s["time"].startswith("2026-01-13")]
    assert len(confirm) == 1
    assert confirm[0]["kind"] == "breakout" and float(confirm[0]["level_value"]) == 163.43
    assert float(confirm[0]["close"]) == 167.01
    rejections = _rows(files["rejections"])
    assert list(rejections[0]) == ["time", "what", "reason"]
    assert len(rejections) == len(baba.record.rejections) > 0
    assert "one position at a time" in rejections[0]["reason"]


def test_write_run_png_is_listed(baba: BacktestResult, tmp_path: Path) -> None:
    files = write_run(baba, tmp_path, png=True)
    assert files["chart_png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_metrics_table_formats_values(baba: BacktestResult) -> None:
    console = Console(record=True, width=120)
    console.print(metrics_table(compute_metrics(baba)))
    text = console.export_text()
    assert "-3.11%" in text  # total return
    assert "+64.50%" in text  # buy & hold 93.89 -> 154.45
    assert "96,887.00" in text
    row = next(line for line in text.splitlines() if "average win" in line)
    assert "n/a" in row
    assert "buy & hold" in text
