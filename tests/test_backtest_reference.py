"""The engine against a deliberately simple reference: a plain loop over a DataFrame.

The reference re-derives every rule from the issue text with whole-array pandas
arithmetic (rolling max/mean) and explicit look-backs, with no incremental state and
none of the project's strategy, risk or broker code. Fixed-share sizing, no costs, no
stops: entries and exits fill at the next bar's open.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.engine.backtest import run_backtest

ROOT = Path(__file__).resolve().parents[1]
DAILY = ROOT / "data" / "BABA_1d.csv"


def reference_trades(
    df: pd.DataFrame, p: dict[str, Any], qty: int
) -> list[tuple[str, float, str, float]]:
    closes, opens = df["close"].to_numpy(), df["open"].to_numpy()
    vols = df["volume"].to_numpy()
    dates = [d.date().isoformat() for d in df.index]
    n, bo, bd = p["confirm_closes"], p["breakout_buffer_pct"] / 100, p["breakdown_buffer_pct"] / 100
    vm, vl, lb = p["volume_multiple"], p["volume_lookback"], p["peak_lookback_sessions"]
    peak = df["high"].rolling(lb).max().shift(1).to_numpy()  # prior sessions only
    vmean = df["volume"].rolling(vl).mean().shift(1).to_numpy()  # bars before t
    levels: dict[str, Any] = {f"r{v}": v for v in p["levels"]}
    if p["use_52w_peak"]:
        levels["peak"] = None
    state: dict[str, str | None] = dict.fromkeys(levels)
    frozen: dict[str, float] = {}
    trades: list[tuple[str, float, str, float]] = []
    pos_level: str | None = None
    entry: tuple[str, float] | None = None
    pending: str | None = None  # "buy" / "sell" to execute at the next open
    for i in range(len(df)):
        if pending == "buy":
            entry = (dates[i], opens[i])
        elif pending == "sell":
            assert entry is not None
            trades.append((entry[0], entry[1], dates[i], opens[i]))
            entry, pos_level = None, None
        pending = None

        def lvl(name: str, j: int) -> float:
            v = levels[name]
            return float(peak[j]) if v is None else float(v)

        ready = i + 1 >= n and (vm == 0 or i >= vl)
        for name in levels:
            if math.isnan(lvl(name, i)) or not ready:
                continue
            if state[name] is None:
                above = closes[i] > lvl(name, i)
                state[name] = "ABOVE" if above else "BELOW"
                frozen[name] = lvl(name, i)
                continue
            window = range(i - n + 1, i + 1)
            if state[name] == "BELOW":
                if all(
                    not math.isnan(lvl(name, j)) and closes[j] > lvl(name, j) * (1 + bo)
                    for j in window
                ):
                    if vm > 0 and vols[i] < vm * vmean[i]:
                        continue
                    state[name] = "ABOVE"
                    frozen[name] = lvl(name, i - n + 1)  # the level the first close broke
                    if entry is None and pending is None:
                        pending, pos_level = "buy", name
            elif all(closes[j] < frozen[name] * (1 - bd) for j in window):
                state[name] = "BELOW"
                if entry is not None and pos_level == name:
                    pending = "sell"
    return trades


CONFIGS = [
    {},
    {"confirm_closes": 1},
    {"confirm_closes": 3, "volume_multiple": 0.0},
    {"breakout_buffer_pct": 0.5, "breakdown_buffer_pct": 2.0, "volume_multiple": 1.2},
    {"use_52w_peak": False, "levels": [100.0, 163.43], "volume_lookback": 10},
    {"levels": [90.0], "peak_lookback_sessions": 126, "volume_multiple": 0.0},
    # The volume rule holds peak breakouts back for several bars while the peak rises:
    # the frozen peak is the one the first *confirming* close broke (bar t - n + 1), not
    # the one at the start of the run of closes above the peak (the trades differ).
    {"levels": [], "confirm_closes": 1, "volume_multiple": 1.2, "peak_lookback_sessions": 20},
    {
        "levels": [],
        "confirm_closes": 3,
        "volume_multiple": 2.0,
        "volume_lookback": 10,
        "peak_lookback_sessions": 20,
    },
]


@pytest.mark.parametrize(
    "overrides", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default"
)
def test_engine_matches_reference(overrides: dict[str, Any]) -> None:
    s = load_settings(
        None,
        {
            "strategy": overrides,
            "risk": {"sizing": "fixed_shares", "fixed_shares": 100, "max_position_pct": 100.0},
            "broker": {"slippage_bps": 0.0, "commission_per_share": 0.0, "commission_min": 0.0},
        },
    )
    bars = load_csv(DAILY).bars
    df = pd.read_csv(DAILY, index_col="timestamp", parse_dates=True)
    expected = reference_trades(df, s.strategy.model_dump(), 100)
    result = run_backtest(s, bars)
    got = [
        (
            t.entry_time.date().isoformat(),
            t.entry_price,
            t.exit_time.date().isoformat(),
            t.exit_price,
        )
        for t in result.trades
    ]
    assert got == expected
    assert len(expected) >= 1
    for t in result.trades:
        assert t.pnl == pytest.approx((t.exit_price - t.entry_price) * 100)


def test_real_baba_trade_2026() -> None:
    """Default signal rules, 100 shares, no costs: the January 2026 breakout trade.

    By hand from data/BABA_1d.csv: breakout confirmed at the 2026-01-13 close, so the
    buy fills at the 2026-01-14 open, 171.57; breakdown confirmed at the 2026-02-05
    close, so the sell fills at the 2026-02-06 open, 160.46.
    P&L = (160.46 - 171.57) x 100 = -1,111.00.
    """
    s = load_settings(None, {"risk": {"sizing": "fixed_shares"}, "broker": {"slippage_bps": 0.0}})
    result = run_backtest(s, load_csv(DAILY).bars)
    last = result.trades[-1]
    assert last.entry_time.date().isoformat() == "2026-01-14"
    assert last.exit_time.date().isoformat() == "2026-02-06"
    assert (last.entry_price, last.exit_price, last.qty) == (171.57, 160.46, 100)
    assert last.pnl == pytest.approx(-1111.00)


def test_no_lookahead_in_orders_and_fills() -> None:
    """Changing every bar after t never changes an order or fill at or before t."""
    s = load_settings(
        None, {"risk": {"sizing": "percent_equity"}, "strategy": {"confirm_closes": 1}}
    )
    bars = load_csv(DAILY).bars
    base = run_backtest(s, bars)
    rng = np.random.default_rng(7)
    for t in (2000, 2600, int(bars.index_of("2026-01-12")), len(bars) - 10):
        alt = bars.slice(0, len(bars))
        k = len(bars) - t - 1
        scale = rng.uniform(0.5, 1.6, size=k)
        for col in ("open", "high", "low", "close"):
            arr = getattr(alt, col).copy()
            arr[t + 1 :] = arr[t + 1 :] * scale
            setattr(alt, col, arr)
        vol = alt.volume.copy()
        vol[t + 1 :] = vol[t + 1 :] * rng.uniform(0.1, 5.0, size=k)
        alt.volume = vol
        other = run_backtest(s, alt)
        cut = int(bars.ts[t])
        assert [f for f in base.record.fills if f.ts <= cut] == [
            f for f in other.record.fills if f.ts <= cut
        ]
        assert [i for i in base.record.intents if i.signal_ts <= cut] == [
            i for i in other.record.intents if i.signal_ts <= cut
        ]
        np.testing.assert_array_equal(base.equity[: t + 1], other.equity[: t + 1])
