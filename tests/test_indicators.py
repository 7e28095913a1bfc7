"""The incremental indicators of bot/indicators.py against `ta` and pandas, whole series.

Series: the real BABA daily bars and a seeded random walk. Values before an
indicator's first valid bar must be NaN in ours (ta fills some of them with 0).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import ta
from numpy.testing import assert_allclose

from bot.indicators import ADX, ATR, RSI, RollingMean, SessionPeak
from tests.conftest import make_minute_bars

RTOL = 1e-9


def random_walk(n: int = 1500, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n))
    # a few flat stretches (zero moves) to exercise ties and zero ranges
    close[200:210] = close[199]
    high[200:210] = low[200:210] = open_[200:210] = close[199]
    volume = rng.integers(1_000, 1_000_000, n).astype(float)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


@pytest.fixture(scope="module", params=["baba", "random_walk"])
def ohlcv(request, daily_df) -> pd.DataFrame:
    if request.param == "baba":
        return daily_df.reset_index(drop=True)
    return random_walk()


@pytest.mark.parametrize("window", [14, 2, 30])
def test_rsi_matches_ta(ohlcv, window):
    close = ohlcv["close"]
    rsi = RSI(window)
    ours = np.array([rsi.update(c) for c in close])
    ref = ta.momentum.RSIIndicator(close, window).rsi().to_numpy()
    assert np.isnan(ours[: window - 1]).all() and not np.isnan(ours[window - 1 :]).any()
    assert_allclose(ours, ref, rtol=RTOL, atol=0)


@pytest.mark.parametrize("window", [14, 3, 30])
def test_atr_matches_ta(ohlcv, window):
    h, lo, c = ohlcv["high"], ohlcv["low"], ohlcv["close"]
    atr = ATR(window)
    ours = np.array([atr.update(*x) for x in zip(h, lo, c, strict=True)])
    ref = ta.volatility.AverageTrueRange(h, lo, c, window).average_true_range().to_numpy()
    assert np.isnan(ours[: window - 1]).all()
    assert_allclose(ours[window - 1 :], ref[window - 1 :], rtol=RTOL, atol=0)
    assert atr.value == ours[-1]


@pytest.mark.parametrize("window", [14, 5, 30])
def test_adx_matches_ta(ohlcv, window):
    h, lo, c = ohlcv["high"], ohlcv["low"], ohlcv["close"]
    adx = ADX(window)
    ours = np.array([adx.update(*x) for x in zip(h, lo, c, strict=True)])
    ref = ta.trend.ADXIndicator(h, lo, c, window).adx().to_numpy()
    first = 2 * window - 1
    assert np.isnan(ours[:first]).all() and not np.isnan(ours[first:]).any()
    assert_allclose(ours[first:], ref[first:], rtol=RTOL, atol=0)


@pytest.mark.parametrize("n", [1, 5, 20, 252])
def test_rolling_mean_matches_pandas(ohlcv, n):
    vol = ohlcv["volume"]
    rm = RollingMean(n)
    after, before = [], []
    for v in vol:
        before.append(rm.push(v))  # push returns the mean of the n values before v
        after.append(rm.value)
    ref = vol.rolling(n).mean()
    assert_allclose(np.array(after), ref.to_numpy(), rtol=RTOL, atol=0)  # NaN where pandas NaN
    assert_allclose(np.array(before), ref.shift(1).to_numpy(), rtol=RTOL, atol=0)
    assert rm.ready


def feed_peak(sp: SessionPeak, api: str, session: int, high: float, ts: int) -> tuple[float, int]:
    """The peak as of a bar, through either API: peak() then push(), or update()."""
    if api == "update":
        return sp.update(session, high, ts)
    got = sp.peak(session)
    sp.push(session, high, ts)
    return got


@pytest.mark.parametrize("api", ["peak_push", "update"])
@pytest.mark.parametrize("n", [2, 5, 252])
def test_session_peak_on_daily_bars(ohlcv, n, api):
    high = ohlcv["high"].to_numpy()
    days = np.arange(len(high)) + 16_000  # one session per bar
    ts = np.arange(len(high), dtype=np.int64) * 86_400 * 10**9
    sp = SessionPeak(n)
    peaks, peak_ts, ready = [], [], []
    for s, hi, t in zip(days.tolist(), high.tolist(), ts.tolist(), strict=True):
        ready.append(sp.ready(s))
        p, pt = feed_peak(sp, api, s, hi, t)
        peaks.append(p)
        peak_ts.append(pt)
    ref = pd.Series(high).rolling(n).max().shift(1).to_numpy()
    assert_allclose(np.array(peaks), ref, rtol=RTOL, atol=0)
    assert ready == [i >= n for i in range(len(high))]
    # the bar that made the peak: the earliest of the prior n bars holding the max
    windows = np.lib.stride_tricks.sliding_window_view(high, n)[:-1]
    made = np.arange(len(windows)) + np.argmax(windows, axis=1)
    assert peak_ts[n:] == ts[made].tolist()


def test_session_peak_ties_keep_the_earliest_bar():
    sp = SessionPeak(3)
    for day, hi in enumerate([5.0, 7.0, 7.0, 6.0]):
        sp.push(day, hi, day * 100)
    assert sp.peak(4) == (7.0, 100)  # sessions 1..3: the first 7.0 is at ts 100


@pytest.mark.parametrize("api", ["peak_push", "update"])
def test_session_peak_on_random_minute_sessions(api):
    rng = np.random.default_rng(3)
    sessions = []
    for k in range(8):
        m = int(rng.integers(1, 30))
        highs = rng.uniform(10, 20, m).round(2).tolist()
        sessions.append((date(2024, 3, 4 + k), [9.0] * m, highs))
    bars = make_minute_bars(sessions)
    n = 3
    sp = SessionPeak(n)
    ours = [feed_peak(sp, api, b.session, b.high, b.ts)[0] for b in bars]
    # independent: previous n whole sessions plus this session's earlier bars
    sess = [b.session for b in bars]
    highs_all = [b.high for b in bars]
    order = {s: i for i, s in enumerate(dict.fromkeys(sess))}
    per_session = pd.Series(highs_all).groupby(sess).max()
    ref = []
    for i, s in enumerate(sess):
        k = order[s]
        if k < n:
            ref.append(np.nan)
            continue
        prior = [per_session[x] for x, j in order.items() if k - n <= j < k]
        earlier = [h for h, s2 in zip(highs_all[:i], sess[:i], strict=True) if s2 == s]
        ref.append(max(prior + earlier))
    assert_allclose(np.array(ours), np.array(ref), rtol=RTOL, atol=0)
