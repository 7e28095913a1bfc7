"""Each rule of strategies/level_breakout.py on small synthetic series.

Unless a test says otherwise: one fixed level at 100, buffers 1 % (breakout threshold
100 * 1.01 = 101, breakdown threshold 100 * 0.99 = 99), no 52-week peak, volume filter
off. With the volume filter off the warm-up is `confirm_closes` bars, so the side of the
level is taken from bar index confirm_closes - 1 (no signal on that bar).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import ta

from bot.indicators import SessionPeak
from strategies.level_breakout import LevelBreakout, SignalKind
from strategies.level_config import PEAK_LEVEL, LevelBreakoutConfig
from tests.conftest import make_bars, make_minute_bars, run, run_indexed

OUT, DOWN = SignalKind.BREAKOUT, SignalKind.BREAKDOWN


def cfg(**kw: object) -> LevelBreakoutConfig:
    base: dict[str, object] = {
        "levels": [100.0],
        "use_52w_peak": False,
        "confirm_closes": 2,
        "breakout_buffer_pct": 1.0,
        "breakdown_buffer_pct": 1.0,
        "volume_multiple": 0.0,
        "volume_lookback": 3,
    }
    base.update(kw)
    return LevelBreakoutConfig(**base)


def kinds_at(config: LevelBreakoutConfig, closes, **bar_kw) -> list[tuple[int, SignalKind]]:
    return [(i, s.kind) for i, s in run_indexed(config, make_bars(closes, **bar_kw))]


# ---------------------------------------------------------------- buffers


@pytest.mark.parametrize(
    ("buffer_pct", "inside", "outside"),
    [
        (1.0, 100.99, 101.01),  # threshold 100 * 1.01 = 101
        (2.5, 102.49, 102.51),  # threshold 100 * 1.025 = 102.5
        (0.0, 100.0, 100.01),  # threshold 100: equal is not above
    ],
)
def test_breakout_buffer(buffer_pct, inside, outside):
    c = cfg(breakout_buffer_pct=buffer_pct)
    assert kinds_at(c, [95, 95, inside, inside]) == []
    assert kinds_at(c, [95, 95, outside, outside]) == [(3, OUT)]


@pytest.mark.parametrize(
    ("buffer_pct", "inside", "outside"),
    [
        (1.0, 99.01, 98.99),  # threshold 100 * 0.99 = 99
        (3.0, 97.01, 96.99),  # threshold 100 * 0.97 = 97
        (0.0, 100.0, 99.99),
    ],
)
def test_breakdown_buffer(buffer_pct, inside, outside):
    c = cfg(breakdown_buffer_pct=buffer_pct)
    # first two closes above 100 -> state ABOVE from bar 1
    assert kinds_at(c, [105, 105, inside, inside]) == []
    assert kinds_at(c, [105, 105, outside, outside]) == [(3, DOWN)]


def test_each_side_uses_its_own_buffer():
    c = cfg(breakout_buffer_pct=2.0, breakdown_buffer_pct=0.5)  # thresholds 102 and 99.5
    assert kinds_at(c, [95, 95, 101.5, 101.5]) == []
    closes = [95, 95, 102.1, 102.1, 99.6, 99.6, 99.4, 99.4]
    assert kinds_at(c, closes) == [(3, OUT), (7, DOWN)]


def test_close_inside_the_buffer_breaks_the_run():
    # 100.5 is above the level but not above 101: the run of confirming closes restarts.
    c = cfg(confirm_closes=3)
    assert kinds_at(c, [95, 95, 95, 102, 102, 100.5, 102, 102]) == []
    assert kinds_at(c, [95, 95, 95, 102, 102, 100.5, 102, 102, 102]) == [(8, OUT)]


def test_signal_fields():
    (sig,) = run(cfg(), make_bars([95, 95, 101.5, 104.0]))
    assert sig.kind == OUT and sig.level == "resistance_100" and sig.level_value == 100.0
    assert sig.close == 104.0
    assert sig.distance_pct == pytest.approx(4.0)  # (104 / 100 - 1) * 100
    assert sig.reason.startswith("2 closes above 100.00 +1% (101.50, 104.00)")


# ---------------------------------------------------------------- confirming closes


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_confirm_closes_breakout(n):
    c = cfg(confirm_closes=n)
    below = [95.0] * n  # state BELOW from bar n-1
    assert kinds_at(c, below + [102.0] * (n - 1)) == []
    got = run_indexed(c, make_bars(below + [102.0] * n))
    assert [(i, s.kind) for i, s in got] == [(2 * n - 1, OUT)]  # the n-th close above
    closes = ", ".join(["102.00"] * n)
    assert f"({closes})" in got[0][1].reason


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_confirm_closes_breakdown(n):
    c = cfg(confirm_closes=n)
    above = [105.0] * n  # state ABOVE from bar n-1
    assert kinds_at(c, above + [98.0] * (n - 1)) == []
    assert kinds_at(c, above + [98.0] * n) == [(2 * n - 1, DOWN)]


def test_one_signal_per_crossing():
    # staying above after the breakout does not repeat it; the next one needs a breakdown first
    closes = [95, 95, 102, 102, 103, 104, 98, 98, 97, 102, 102]
    assert kinds_at(cfg(), closes) == [(3, OUT), (7, DOWN), (10, OUT)]


# ---------------------------------------------------------------- volume filter


def test_volume_filter_fails_then_passes_later():
    c = cfg(volume_multiple=1.5, volume_lookback=3)
    closes = [95, 95, 95, 95, 102, 102, 102]
    volumes = [100, 100, 100, 100, 100, 140, 200]
    # bar 5: 2nd close above, volume 140 / mean(100, 100, 100) = 1.4 < 1.5 -> held back
    # bar 6: 3rd close above, volume 200 / mean(100, 100, 140) = 600 / 340 = 1.7647 -> breakout
    got = run_indexed(c, make_bars(closes, volumes=volumes))
    assert [(i, s.kind) for i, s in got] == [(6, OUT)]
    assert got[0][1].volume_ratio == pytest.approx(600 / 340, rel=1e-12)
    assert "volume 1.8x the 3-bar mean" in got[0][1].reason
    assert "(102.00, 102.00)" in got[0][1].reason


def test_volume_ratio_equal_to_multiple_passes():
    c = cfg(volume_multiple=1.5, volume_lookback=3)
    # bar 5: 150 / mean(100, 100, 100) = 1.5 >= 1.5
    got = kinds_at(c, [95, 95, 95, 95, 102, 102], volumes=[100, 100, 100, 100, 100, 150])
    assert got == [(5, OUT)]


def test_volume_mean_is_of_the_previous_lookback_bars_only():
    c = cfg(volume_multiple=1.5, volume_lookback=3)
    closes = [95, 95, 95, 95, 102, 102]
    # bar 5: 160 / mean(bars 2..4 = 100, 100, 100) = 1.6 -> passes. Counting bar 5 itself
    # (mean 120 -> 1.33) or bar 1 (1000) in the mean would hold it back.
    got = run_indexed(c, make_bars(closes, volumes=[100, 1000, 100, 100, 100, 160]))
    assert [(i, s.kind) for i, s in got] == [(5, OUT)]
    assert got[0][1].volume_ratio == pytest.approx(1.6, rel=1e-12)


def test_volume_multiple_zero_disables_the_filter():
    closes = [95, 95, 95, 95, 102, 102, 102]
    volumes = [100, 100, 100, 100, 100, 1, 1]
    assert kinds_at(cfg(volume_multiple=1.5), closes, volumes=volumes) == []
    got = run_indexed(cfg(volume_multiple=0), make_bars(closes, volumes=volumes))
    assert [(i, s.kind) for i, s in got] == [(5, OUT)]
    assert "volume" not in got[0][1].reason


def test_breakdown_is_not_held_back_by_volume():
    c = cfg(volume_multiple=1.5, volume_lookback=3)
    closes = [95, 95, 95, 95, 102, 102, 98, 98]
    volumes = [100, 100, 100, 100, 100, 200, 1, 1]  # breakdown bars: 1 / mean << 1.5
    assert kinds_at(c, closes, volumes=volumes) == [(5, OUT), (7, DOWN)]


# ---------------------------------------------------------------- warm-up


def test_no_breakout_before_volume_lookback_bars_exist():
    c = cfg(volume_multiple=1.5, volume_lookback=5)
    # above the threshold from bar 1 with surging volume: not ready until bar 5 (5 bars
    # before it), where the state is taken as ABOVE -> never a breakout
    closes = [95, 105, 105, 105, 105, 105, 105, 105]
    volumes = [100, 1000, 1000, 1000, 1000, 1000, 5000, 5000]
    assert kinds_at(c, closes, volumes=volumes) == []


@pytest.mark.parametrize(
    ("closes", "expected"),
    [
        # first ready bar is index 5 (volume_lookback = 5 earlier bars)
        ([95] * 5 + [105] * 3, []),  # bar 5 above -> state ABOVE, no signal
        ([95] * 5 + [105] * 3 + [98, 98], [(9, DOWN)]),  # ... proven by the later breakdown
        ([95] * 6 + [105] * 2, [(7, OUT)]),  # bar 5 below -> state BELOW -> breakout
        ([105] * 5 + [95] * 3, []),  # bar 5 below -> state BELOW, no breakdown
        ([105] * 5 + [95] * 3 + [102, 102], [(9, OUT)]),
    ],
)
def test_state_is_set_on_the_first_bar_after_warm_up(closes, expected):
    c = cfg(volume_multiple=1.5, volume_lookback=5)
    volumes = [100] * (len(closes) - 2) + [5000, 5000]  # the last two bars surge: 50x
    assert kinds_at(c, closes, volumes=volumes) == expected


def test_warm_up_without_volume_filter_is_confirm_closes_bars():
    c = cfg(confirm_closes=3)
    assert kinds_at(c, [95, 105, 105, 105, 105]) == []  # state ABOVE at bar 2
    assert kinds_at(c, [105, 105, 105, 98, 98, 98]) == [(5, DOWN)]
    assert kinds_at(c, [95, 95, 95, 105, 105, 105]) == [(5, OUT)]


def test_rsi_warm_up_delays_the_state():
    # RSI(5) exists from bar 4: bars 0..3 cannot set the state even with rsi_max = 100
    c = cfg(confirm_closes=1, rsi_filter=True, rsi_period=5, rsi_max=100)
    rsi = ta.momentum.RSIIndicator(pd.Series([95.0, 96, 97, 98, 102, 103]), 5).rsi()
    assert np.isnan(rsi[3]) and not np.isnan(rsi[4])
    assert kinds_at(c, [95, 96, 97, 102, 102, 103]) == []  # bar 4 above -> ABOVE


# ---------------------------------------------------------------- 52-week (moving) peak


def peak_cfg(**kw: object) -> LevelBreakoutConfig:
    base: dict[str, object] = {
        "levels": [],
        "use_52w_peak": True,
        "peak_lookback_sessions": 5,
        "confirm_closes": 1,
        "breakout_buffer_pct": 0.0,
        "breakdown_buffer_pct": 0.0,
        "volume_multiple": 0.0,
    }
    base.update(kw)
    return LevelBreakoutConfig(**base)


def test_config_needs_a_level_or_the_peak():
    with pytest.raises(ValueError, match="no level to watch"):
        LevelBreakoutConfig(levels=[], use_52w_peak=False)
    assert peak_cfg().levels == []


def prior_peak(highs: list[float], n: int) -> pd.Series:
    """Independent: max high of the previous n bars, this bar excluded."""
    return pd.Series(highs, dtype=float).rolling(n).max().shift(1)


@pytest.mark.parametrize(("big_at", "expected"), [(0, [(6, OUT)]), (1, [])])
def test_peak_is_max_high_of_the_prior_n_sessions(big_at, expected):
    highs = [10.0] * 7
    highs[big_at] = 20.0
    highs[6] = 11.0  # bar 6's own high is above its close: must not count
    closes = [9, 9, 9, 9, 9, 9, 10.5]
    peak = prior_peak(highs, 5)
    # bar 5 is the first with 5 prior sessions: state BELOW (9 < 20)
    # bar 6: peak = max(high[1..5]) = 10 if the 20 was on bar 0 (dropped), 20 if on bar 1
    assert peak[6] == (10.0 if big_at == 0 else 20.0)
    got = run_indexed(peak_cfg(), make_bars(closes, highs=highs))
    assert [(i, s.kind) for i, s in got] == expected
    if expected:
        sig = got[0][1]
        assert sig.level == PEAK_LEVEL and sig.level_value == 10.0
        assert "the 52-week peak 10.00" in sig.reason


def test_peak_not_ready_means_no_state_and_no_signal():
    highs = [10.0, 12.2, 12.2, 12.2, 12.2, 13.0, 13.5]
    closes = [9.0, 12.0, 12.0, 12.0, 12.0, 12.5, 13.0]  # bars 1-4 beat bar 0's high: too early
    strat = LevelBreakout(peak_cfg())
    states = []
    for bar in make_bars(closes, highs=highs):
        assert strat.on_bar(bar) == ()
        states.append(strat.levels[0].state)
    # bar 5 is the first with 5 prior sessions: peak = max(high[0..4]) = 12.2 < 12.5 -> ABOVE
    assert states == [None] * 5 + ["ABOVE", "ABOVE"]


#   bar  high  close   peak as of the bar (max high of the 5 bars before)
#   0-4  10    9       -
#   5    10    9       10              first ready bar: BELOW
#   6    10.6  10.5    10              1st close above: the peak it breaks is 10
#   7    11.2  11.0    10.6            2nd close above its own peak -> BREAKOUT of 10
#   8    12    11.8    11.2
#   9    11.8  10.2    12              below the moving peak, still above the frozen 10
#   10   10.4  10.1    12
#   11   10.0  9.8     12              1st close below 10
#   12   9.9   9.7     12              2nd close below 10 -> BREAKDOWN of 10
FROZEN_HIGHS = [10.0] * 6 + [10.6, 11.2, 12.0, 11.8, 10.4, 10.0, 9.9]
FROZEN_CLOSES = [9.0] * 6 + [10.5, 11.0, 11.8, 10.2, 10.1, 9.8, 9.7]


def test_peak_breakout_freezes_the_broken_level():
    peak = prior_peak(FROZEN_HIGHS, 5)
    assert list(peak[5:]) == [10.0, 10.0, 10.6, 11.2, 12.0, 12.0, 12.0, 12.0]
    # a breakdown judged against the moving peak would come at bar 10 (10.2, 10.1 < 12)
    assert FROZEN_CLOSES[9] < peak[9] and FROZEN_CLOSES[10] < peak[10]
    got = run_indexed(peak_cfg(confirm_closes=2), make_bars(FROZEN_CLOSES, highs=FROZEN_HIGHS))
    assert [(i, s.kind, s.level_value) for i, s in got] == [(7, OUT, 10.0), (12, DOWN, 10.0)]
    assert "the 52-week peak 10.00" in got[0][1].reason and "(10.50, 11.00)" in got[0][1].reason
    assert "(9.80, 9.70)" in got[1][1].reason


def test_peak_status_shows_frozen_and_moving_peak():
    strat = LevelBreakout(peak_cfg(confirm_closes=2))
    bars = make_bars(FROZEN_CLOSES, highs=FROZEN_HIGHS)
    for bar in bars[:11]:
        strat.on_bar(bar)
    (row,) = strat.status().rows
    assert row.side == "ABOVE"
    assert row.value == 10.0  # the frozen level
    # the moving peak as of bar 10: max(high[5..9]); bar 8 (2024-01-02 + 8 weekdays) made it
    assert row.note == "52-week peak now 12.0 made on 2024-01-12"


#   Volume rule on (1.5x the mean of the 3 bars before); peak of the 5 bars before.
#   bar  high  close  volume  peak   (close vs the peak as of its own bar)
#   0-5  10    9      100     -/10   bar 5: first ready bar (5 sessions, 3 volumes): BELOW
#   6    10.6  10.5   100     10     1st close above
#   7    11.2  11.0   100     10.6   2nd: confirmed, volume 100/100 = 1.0 < 1.5 -> held back
#   8    12.0  11.8   100     11.2   3rd: 1.0 < 1.5 -> held back
#   9    12.6  12.4   400     12.0   4th: 400/100 = 4.0 -> BREAKOUT. Its confirming closes are
#                                    bars 8 and 9; the first of them broke 11.2 -> frozen 11.2
#                                    (not 10, the run's start, nor 12.0, this bar's peak)
#   10   12.5  11.5   100     12.6   above 11.2 (below the moving peak: no breakdown test)
#   11   11.4  11.1   100     12.6   1st close below 11.2
#   12   11.2  11.0   100     12.6   2nd close below 11.2 -> BREAKDOWN of 11.2
#   13   10.0  9.9    100     12.6   (a peak frozen at 10 would break down only at bar 14)
#   14   9.9   9.8    100     12.6
HELD_HIGHS = [10.0] * 6 + [10.6, 11.2, 12.0, 12.6, 12.5, 11.4, 11.2, 10.0, 9.9]
HELD_CLOSES = [9.0] * 6 + [10.5, 11.0, 11.8, 12.4, 11.5, 11.1, 11.0, 9.9, 9.8]
HELD_VOLUMES = [100.0] * 9 + [400.0] + [100.0] * 5


def test_volume_held_peak_breakout_freezes_the_first_confirming_closes_peak():
    peak = prior_peak(HELD_HIGHS, 5)
    assert list(peak[5:]) == [10.0, 10.0, 10.6, 11.2, 12.0] + [12.6] * 5
    vol = pd.Series(HELD_VOLUMES)
    ratio = vol / vol.rolling(3).mean().shift(1)
    assert list(ratio[7:10]) == [1.0, 1.0, 4.0]
    closes = pd.Series(HELD_CLOSES)
    assert (closes[6:10] > peak[6:10]).all() and not closes[10] > peak[10]
    c = peak_cfg(confirm_closes=2, volume_multiple=1.5, volume_lookback=3)
    bars = make_bars(HELD_CLOSES, highs=HELD_HIGHS, volumes=HELD_VOLUMES)
    got = run_indexed(c, bars)
    assert [(i, s.kind, s.level_value) for i, s in got] == [(9, OUT, 11.2), (12, DOWN, 11.2)]
    assert "the 52-week peak 11.20 +0% (11.80, 12.40), volume 4.0x" in got[0][1].reason
    assert "below the 52-week peak 11.20 -0% (11.10, 11.00)" in got[1][1].reason
    # while ABOVE, the status shows the frozen 11.2 beside the moving peak
    strat = LevelBreakout(c)
    for bar in bars[:11]:
        strat.on_bar(bar)
    (row,) = strat.status().rows
    assert (row.side, row.value) == ("ABOVE", 11.2)
    assert row.note.startswith("52-week peak now 12.6 made on")


def test_each_close_is_compared_with_its_own_bars_peak():
    #   bar  high  close   peak
    #   6    10.6  10.5    10     1st close above
    #   7    10.7  10.55   10.6   not above its own peak (10.6 includes bar 6) -> run ends
    #   8    11.5  11.2    10.7   1st close above again: the level broken is 10.7
    #   9    11.6  11.55   11.5   2nd -> BREAKOUT of 10.7 (not 11.5, the peak bar 8 lifted)
    highs = [10.0] * 6 + [10.6, 10.7, 11.5, 11.6]
    closes = [9.0] * 6 + [10.5, 10.55, 11.2, 11.55]
    peak = prior_peak(highs, 5)
    above = pd.Series(closes) > peak
    assert list(above[6:]) == [True, False, True, True]
    got = run_indexed(peak_cfg(confirm_closes=2), make_bars(closes, highs=highs))
    assert [(i, s.kind, s.level_value) for i, s in got] == [(9, OUT, peak[8])]
    assert peak[8] == 10.7


@pytest.mark.parametrize(("close7", "expected"), [(10.30, []), (10.31, [(7, OUT)])])
def test_peak_with_buffer(close7, expected):
    highs = [10.0] * 6 + [10.2, 10.4]
    closes = [9.0] * 6 + [10.09, close7]
    peak = prior_peak(highs, 5)
    # bar 6: peak 10, threshold 10 * 1.01 = 10.1 -> 10.09 is inside the buffer
    # bar 7: peak max(high[2..6]) = 10.2, threshold 10.2 * 1.01 = 10.302
    assert peak[6] == 10.0 and peak[7] == 10.2
    got = run_indexed(peak_cfg(breakout_buffer_pct=1.0), make_bars(closes, highs=highs))
    assert [(i, s.kind) for i, s in got] == expected
    if expected:
        assert got[0][1].level_value == 10.2


def test_fixed_level_and_peak_are_independent():
    c = peak_cfg(levels=[10.3])
    highs = [10.0] * 6 + [10.6, 11.2]
    closes = [9.0] * 6 + [10.5, 11.0]
    got = [(i, s.level) for i, s in run_indexed(c, make_bars(closes, highs=highs))]
    # bar 6: 10.5 > 10.3 and > peak 10 -> both levels break out on the same bar
    assert got == [(6, "resistance_10.3"), (6, PEAK_LEVEL)]


# ---------------------------------------------------------------- intraday peak


def test_intraday_peak_includes_earlier_bars_of_the_current_session():
    d1, d2, d3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
    bars = make_minute_bars(
        [
            (d1, [9.5, 9.5, 9.5], [10.0, 11.0, 10.0]),
            (d2, [9.5, 11.9, 9.5], [10.0, 12.0, 10.0]),  # 11.9: not ready yet (1 session done)
            (d3, [11.9, 12.5, 13.1], [13.0, 12.6, 13.2]),
        ]
    )
    c = peak_cfg(peak_lookback_sessions=2)
    got = run_indexed(c, bars)
    # d3 bar 0 (index 6): peak = max(d1, d2) = 12; 11.9 < 12 -> state BELOW
    # d3 bar 1 (index 7): peak = max(12, d3 bar 0 high 13) = 13; 12.5 > 12 but < 13 -> nothing
    # d3 bar 2 (index 8): peak 13; 13.1 > 13 -> BREAKOUT of 13
    assert [(i, s.kind, s.level_value) for i, s in got] == [(8, OUT, 13.0)]


def test_session_peak_over_minute_sessions_drops_old_sessions():
    d = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)]
    bars = make_minute_bars(
        [
            (d[0], [1, 1], [50.0, 20.0]),
            (d[1], [1, 1, 1], [30.0, 10.0, 12.0]),
            (d[2], [1, 1], [11.0, 40.0]),
            (d[3], [1, 1, 1], [5.0, 35.0, 6.0]),
        ]
    )
    peak = SessionPeak(2)
    got = []
    for bar in bars:
        got.append(peak.peak(bar.session)[0])
        peak.push(bar.session, bar.high, bar.ts)
    nan = math.nan
    expected = [
        nan, nan,  # d0: no complete session
        nan, nan, nan,  # d1: one complete session
        50.0, 50.0,  # d2: max(d0, d1) = 50, then max(50, 11)
        40.0, 40.0, 40.0,  # d3: d0 dropped: max(d1 = 30, d2 = 40), then with 5, 35
    ]  # fmt: skip
    np.testing.assert_array_equal(np.array(got), np.array(expected))


# ---------------------------------------------------------------- RSI / ADX filters


def first_breakout(closes, threshold: float, n: int, ok, start: int) -> int | None:
    """Independent reference: first bar from `start` with >= n consecutive closes above
    `threshold` whose filter value `ok[i]` is true."""
    run_len = 0
    for i in range(start, len(closes)):
        run_len = run_len + 1 if closes[i] > threshold else 0
        if run_len >= n and ok[i]:
            return i
    return None


RSI_CLOSES = [94.0, 96.0] * 10 + [102, 103, 102.2, 101.6, 101.9, 101.3, 101.8]


def test_rsi_filter_holds_the_breakout_until_rsi_is_below_max():
    rsi = ta.momentum.RSIIndicator(pd.Series(RSI_CLOSES), 14).rsi()
    # ta: RSI[21] = 65.49, RSI[22] = 63.29, RSI[23] = 61.62 (bars 20.. are above 101)
    assert rsi[21] >= 62 and rsi[22] >= 62 and rsi[23] < 62
    expected = first_breakout(RSI_CLOSES, 101.0, 2, (rsi < 62).to_numpy(), start=14)
    assert expected == 23
    c = cfg(rsi_filter=True, rsi_period=14, rsi_max=62)
    got = run_indexed(c, make_bars(RSI_CLOSES))
    assert [(i, s.kind) for i, s in got] == [(23, OUT)]
    assert f"RSI {rsi[23]:.1f} < 62" in got[0][1].reason
    # without the filter the same series breaks out on the 2nd close above (bar 21)
    assert kinds_at(cfg(), RSI_CLOSES) == [(21, OUT)]


ADX_CLOSES = [95, 96, 95.5, 96.2, 95.4, 96.1, 95.6, 96.3, 95.2, 96.0, 95.5, 96.1] + [
    101.5 + 0.8 * k for k in range(12)
]


def test_adx_filter_holds_the_breakout_until_adx_is_above_min():
    c_s = pd.Series(ADX_CLOSES, dtype=float)
    adx = ta.trend.ADXIndicator(c_s + 0.6, c_s - 0.6, c_s, 5).adx()  # make_bars pad = 0.6
    # ta: ADX[13] = 36.02, ADX[14] = 44.32, ADX[15] = 51.54 (bars 12.. are above 101)
    assert adx[13] <= 50 and adx[14] <= 50 and adx[15] > 50
    ok = (adx > 50).to_numpy() & (np.arange(len(adx)) >= 9)  # ADX(5) exists from bar 9
    assert first_breakout(ADX_CLOSES, 101.0, 2, ok, start=10) == 15
    c = cfg(adx_filter=True, adx_period=5, adx_min=50)
    got = run_indexed(c, make_bars(ADX_CLOSES, pad=0.6))
    assert [(i, s.kind) for i, s in got] == [(15, OUT)]
    assert f"ADX {adx[15]:.1f} > 50" in got[0][1].reason
    assert kinds_at(cfg(), ADX_CLOSES) == [(13, OUT)]


def test_filters_gate_breakouts_only():
    # rising closes, ABOVE once RSI(14) exists (bar 13), then 2 closes below 99
    closes = [105.0 + k for k in range(16)] + [98.0, 98.0]
    rsi = ta.momentum.RSIIndicator(pd.Series(closes), 14).rsi()
    assert rsi[16] > 1 and rsi[17] > 1  # an "RSI < 1" gate would block these bars
    blocked_rsi = cfg(rsi_filter=True, rsi_max=1)  # every breakout blocked
    assert kinds_at(blocked_rsi, closes) == [(17, DOWN)]
    blocked_adx = cfg(adx_filter=True, adx_period=3, adx_min=99)
    c_s = pd.Series(closes)
    adx = ta.trend.ADXIndicator(c_s + 0.5, c_s - 0.5, c_s, 3).adx()
    assert adx[17] <= 99
    assert kinds_at(blocked_adx, closes) == [(17, DOWN)]
    # ... while breakouts stay blocked
    up = [95.0] * 16 + [102.0] * 4
    assert (ta.momentum.RSIIndicator(pd.Series(up), 14).rsi()[16:] >= 1).all()
    assert kinds_at(blocked_rsi, up) == []
    assert kinds_at(blocked_adx, up) == []
