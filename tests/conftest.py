"""Shared helpers for the signal-core tests: synthetic bars, the bundled data, a clean env.

Expected values in the tests are computed independently of the code under test (by
hand, with pandas or with the `ta` library); these helpers only build inputs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.data.load import LoadResult, load_csv
from bot.data.series import BarSeries
from bot.models import ET, Bar, Signal, et_to_ns, ns_to_et, session_day
from strategies.level_breakout import LevelBreakout
from strategies.level_config import LevelBreakoutConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAILY_CSV = PROJECT_ROOT / "data" / "BABA_1d.csv"
MINUTE_CSV = PROJECT_ROOT / "data" / "BABA_1m_2026-01-29.csv"
# The tests' own base config (a copy of config/default.toml as shipped): a user's edits to
# config/default.toml never change what the suite checks. SHIPPED_TOML is for the tests
# of the shipped file itself (test_config_defaults.py).
DEFAULT_TOML = PROJECT_ROOT / "tests" / "fixtures" / "base.toml"
SHIPPED_TOML = PROJECT_ROOT / "config" / "default.toml"
CSV_HEADER = "timestamp,open,high,low,close,volume"


# ---------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def _clean_bot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BOT_* / ALPACA_* variables from the caller's shell leak into a test; the bot
    (in process, and the `bot` commands tests start) reads the tests' base config."""
    for key in list(os.environ):
        if key.upper().startswith(("BOT_", "ALPACA_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CONFIG", str(DEFAULT_TOML))


@pytest.fixture
def in_tmp_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run in an empty working directory, so no stray `.env` is read by the settings."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """`bot signals` replaces the root logger's handlers; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


# ---------------------------------------------------------------- synthetic bars


def weekdays(start: date, count: int) -> list[date]:
    """`count` consecutive weekdays from `start` (start itself if it is a weekday)."""
    out: list[date] = []
    d = start
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def daily_ts(d: date) -> int:
    """A daily bar's time as the loader stamps it: midnight US/Eastern, in UTC ns."""
    return et_to_ns(datetime.combine(d, time(0, 0), tzinfo=ET))


def make_bars(
    closes: Sequence[float],
    volumes: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    opens: Sequence[float] | None = None,
    start: date = date(2024, 1, 2),
    pad: float = 0.5,
) -> list[Bar]:
    """Daily bars on consecutive weekdays. open = close unless given; high/low default to
    max/min(open, close) +/- `pad`; volume defaults to 1000."""
    n = len(closes)
    for name, seq in (("volumes", volumes), ("highs", highs), ("lows", lows), ("opens", opens)):
        assert seq is None or len(seq) == n, f"{name} has {len(seq)} values for {n} closes"
    bars: list[Bar] = []
    for i, d in enumerate(weekdays(start, n)):
        c = float(closes[i])
        o = float(opens[i]) if opens is not None else c
        h = float(highs[i]) if highs is not None else max(o, c) + pad
        lo = float(lows[i]) if lows is not None else min(o, c) - pad
        v = float(volumes[i]) if volumes is not None else 1000.0
        bars.append(Bar(daily_ts(d), o, h, lo, c, v, session_day(d)))
    return bars


def make_minute_bars(
    sessions: Sequence[tuple[date, Sequence[float], Sequence[float]]],
    first: time = time(9, 30),
    volume: float = 1000.0,
) -> list[Bar]:
    """1-minute bars: for each (day, closes, highs) a run of bars from `first` ET."""
    bars: list[Bar] = []
    for d, closes, highs in sessions:
        assert len(closes) == len(highs)
        t0 = datetime.combine(d, first, tzinfo=ET)
        for j, (c, h) in enumerate(zip(closes, highs, strict=True)):
            ts = et_to_ns(t0 + timedelta(minutes=j))
            bars.append(
                Bar(ts, float(c), float(h), float(c) - 0.5, float(c), volume, session_day(d))
            )
    return bars


def run(cfg: LevelBreakoutConfig, bars: Iterable[Bar]) -> list[Signal]:
    """Feed bars to a fresh strategy; all signals in order."""
    strat = LevelBreakout(cfg)
    return [sig for bar in bars for sig in strat.on_bar(bar)]


def run_indexed(cfg: LevelBreakoutConfig, bars: Iterable[Bar]) -> list[tuple[int, Signal]]:
    """Like `run`, with the index of the bar that produced each signal."""
    strat = LevelBreakout(cfg)
    return [(i, sig) for i, bar in enumerate(bars) for sig in strat.on_bar(bar)]


def sig_date(sig: Signal) -> date:
    return ns_to_et(sig.ts).date()


def write_csv(path: Path, rows: Sequence[str], header: str = CSV_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- bundled data


@pytest.fixture(scope="session")
def daily_load() -> LoadResult:
    return load_csv(DAILY_CSV)


@pytest.fixture(scope="session")
def daily_series(daily_load: LoadResult) -> BarSeries:
    return daily_load.bars


@pytest.fixture(scope="session")
def daily_bars(daily_series: BarSeries) -> list[Bar]:
    return list(daily_series.iter_bars())


@pytest.fixture(scope="session")
def daily_df() -> pd.DataFrame:
    """The daily CSV read straight with pandas (not through bot.data.load), indexed by date."""
    df = pd.read_csv(DAILY_CSV)
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df.set_index("timestamp")
