"""Peer benchmark: the `bot.sweep.bench` scoring grid, done the vectorbt way.

Runs the 1,000 combinations of `bot/sweep/bench.py` (confirm_closes x breakout buffer x
breakdown buffer x volume_multiple) on data/BABA_1d.csv as a vectorbt user would: the
signals as (bars x 1,000) numpy arrays, one `vbt.Portfolio.from_signals` over all the
columns (fills at the next bar's open, 25 % of equity, slippage, a 5 % trailing stop),
then each column's Sharpe ratio, total return and trade count. It prints one JSON line
on stdout (everything else goes to stderr), so its time can be set beside ours.

A peer doing comparable work, not a replica: each level's breakout/breakdown state
(BELOW/ABOVE) is kept with `vbt.signals.clean`, and the signals of the fixed level and
of the 252-bar prior peak are OR-ed into one long position per column (the bot keeps the
peak that was broken frozen for the breakdown test; here each close meets its own peak).

It runs in its own venv, `.venv-bench` (`make bench-peers-env`), and imports nothing from
the `bot` package: vectorbt pins numba/llvmlite and pulls in plotly, scipy and more, none
of which may become project dependencies (pyproject.toml does not list vectorbt).

    make bench-peers-env && .venv-bench/bin/python scripts/bench_vectorbt.py
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import vectorbt as vbt

ROOT = Path(__file__).resolve().parent.parent
DAILY = ROOT / "data" / "BABA_1d.csv"

# The grid of bot/sweep/bench.py (NAMES / VALUES), in the same order.
NAMES = ("confirm_closes", "breakout_buffer_pct", "breakdown_buffer_pct", "volume_multiple")
VALUES: tuple[tuple[float, ...], ...] = (
    (1, 2, 3, 4, 5),
    tuple(round(0.25 * i, 2) for i in range(10)),
    (0.5, 1.0, 1.5, 2.0),
    (0.0, 1.0, 1.5, 2.0, 2.5),
)
FIXED_LEVEL = 163.43
PEAK_LOOKBACK = 252
VOLUME_LOOKBACK = 20
INIT_CASH = 100_000.0
SIZE = 0.25  # of cash, which is all of equity when flat (no accumulation): 25 % of equity
SLIPPAGE = 0.0005
TRAIL = 0.05
REPEATS = 3

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


def log(*args: object) -> None:
    print(*args, file=sys.stderr)


def load(path: Path) -> pd.DataFrame:
    """The CSV as a float frame on a DatetimeIndex (columns open, high, low, close, volume)."""
    df = pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")
    return df[["open", "high", "low", "close", "volume"]].astype(np.float64)


def runs_at_least(hit: Bools, k: npt.NDArray[np.int64]) -> Bools:
    """hit is (bars, cols); True where the last k[col] values of the column are all True."""
    idx = np.arange(hit.shape[0])[:, None]
    last_miss = np.maximum.accumulate(np.where(hit, -1, idx), axis=0)
    return (idx - last_miss) >= k[None, :]


def shift_one(a: Bools) -> Bools:
    """Signals confirmed at bar t's close become orders at bar t + 1 (at its open)."""
    out = np.zeros_like(a)
    out[1:] = a[:-1]
    return out


def signals(
    df: pd.DataFrame, columns: pd.MultiIndex, grid: npt.NDArray[np.float64]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entries and exits, (bars x combinations), already shifted to the bar that fills."""
    close = df["close"].to_numpy()
    volume = df["volume"].to_numpy()
    k = grid[:, 0].astype(np.int64)
    up = 1.0 + grid[:, 1] / 100.0
    down = 1.0 - grid[:, 2] / 100.0
    vm = grid[:, 3]

    # The volume rule: volume >= vm x the mean of the 20 bars before (off when vm == 0).
    mean_vol = df["volume"].shift(1).rolling(VOLUME_LOOKBACK).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        vol_ok = (vm[None, :] == 0.0) | (volume[:, None] >= vm[None, :] * mean_vol[:, None])

    peak = df["high"].shift(1).rolling(PEAK_LOOKBACK).max().to_numpy()
    levels: tuple[Floats, ...] = (np.full(len(close), FIXED_LEVEL), peak)
    entries = np.zeros((len(close), len(grid)), dtype=np.bool_)
    exits = np.zeros_like(entries)
    for level in levels:
        with np.errstate(invalid="ignore"):  # NaN peak during warm-up: no signal
            above = close[:, None] > level[:, None] * up[None, :]
            below = close[:, None] < level[:, None] * down[None, :]
        brk = pd.DataFrame(runs_at_least(above, k) & vol_ok, index=df.index, columns=columns)
        brd = pd.DataFrame(runs_at_least(below, k), index=df.index, columns=columns)
        # Each level's state (BELOW/ABOVE): a breakout, then the first breakdown after it, ...
        en, ex = brk.vbt.signals.clean(brd)
        entries |= en.to_numpy()
        exits |= ex.to_numpy()
    return (
        pd.DataFrame(shift_one(entries), index=df.index, columns=columns),
        pd.DataFrame(shift_one(exits), index=df.index, columns=columns),
    )


def run(df: pd.DataFrame, columns: pd.MultiIndex, grid: Floats) -> dict[str, Any]:
    """Signals + one portfolio over every column + metrics; returns per-stage seconds too."""
    t0 = time.perf_counter()
    entries, exits = signals(df, columns, grid)
    t1 = time.perf_counter()
    pf = vbt.Portfolio.from_signals(
        close=df["close"],
        entries=entries,
        exits=exits,
        price=df["open"],
        open=df["open"],
        high=df["high"],
        low=df["low"],
        size=SIZE,
        size_type="percent",
        direction="longonly",
        init_cash=INIT_CASH,
        slippage=SLIPPAGE,
        sl_stop=TRAIL,
        sl_trail=True,
        stop_entry_price="fillprice",
        freq="1D",
    )
    t2 = time.perf_counter()
    sharpe = pf.sharpe_ratio()
    total_return = pf.total_return()
    trades = pf.trades.count()
    t3 = time.perf_counter()
    return {
        "sharpe": sharpe,
        "total_return": total_return,
        "trades": trades,
        "stages": (t1 - t0, t2 - t1, t3 - t2),
    }


def main() -> None:
    # Daily bars are trading sessions: annualise with 252 of them, not 365 days.
    vbt.settings.returns["year_freq"] = "252 days"
    df = load(DAILY)
    grid = np.array(list(itertools.product(*VALUES)), dtype=np.float64)
    columns = pd.MultiIndex.from_arrays(grid.T, names=NAMES)
    log(f"vectorbt {vbt.__version__}: {len(grid):,} combinations x {len(df):,} bars")

    t0 = time.perf_counter()
    run(df, columns, grid)  # warm-up: numba compiles (or loads its cache) here
    log(f"warm-up (numba compilation included): {time.perf_counter() - t0:.2f} s")

    times: list[float] = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        res = run(df, columns, grid)
        times.append(time.perf_counter() - t0)
        sig, port, met = res["stages"]
        log(f"run: {times[-1]:.3f} s (signals {sig:.3f}, portfolio {port:.3f}, metrics {met:.3f})")

    sharpe: pd.Series = res["sharpe"]
    total_return: pd.Series = res["total_return"]
    trades: pd.Series = res["trades"]
    best = sharpe.idxmax()
    log(
        f"best Sharpe {sharpe.max():.3f} at "
        f"{ {n: float(v) for n, v in zip(NAMES, best, strict=True)} }: "
        f"total return {total_return[best]:.2%}, {trades[best]} trades; "
        f"columns without trades: {int((trades == 0).sum())}"
    )
    out = {
        "peer": "vectorbt",
        "version": vbt.__version__,
        "combinations": len(grid),
        "bars": len(df),
        "seconds_median": round(statistics.median(times), 4),
        "seconds_best": round(min(times), 4),
        "trades_total": int(trades.sum()),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
