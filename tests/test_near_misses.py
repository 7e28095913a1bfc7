"""The strategy's near misses: the breakouts and breakdowns it did not give, and why.

Synthetic bars as in tests/test_rules.py (fixed level 100, buffers 1 %: breakout above
101, breakdown below 99), expectations by hand or with `ta`. Recording is off unless
`record_near_misses()` is called, and it never changes a signal.
"""

from __future__ import annotations

import pandas as pd
import pytest
import ta

from bot.models import Rejection
from strategies.level_breakout import LevelBreakout, SignalKind
from strategies.level_config import LevelBreakoutConfig
from tests.conftest import make_bars
from tests.test_rules import HELD_CLOSES, HELD_HIGHS, HELD_VOLUMES, RSI_CLOSES, cfg, peak_cfg


def misses(config: LevelBreakoutConfig, bars) -> tuple[list[tuple[int, str, str]], list]:
    """(bar index, what, reason) of each near miss, and the signals, in one run."""
    strat = LevelBreakout(config)
    found = strat.record_near_misses()
    index = {bar.ts: i for i, bar in enumerate(bars)}
    signals = [(i, s.kind) for i, bar in enumerate(bars) for s in strat.on_bar(bar)]
    return [(index[r.ts], r.what, r.reason) for r in found], signals


def test_off_by_default() -> None:
    strat = LevelBreakout(cfg())
    for bar in make_bars([95, 95, 102, 98, 98]):
        strat.on_bar(bar)
    assert strat.near_misses is None
    assert strat.record_near_misses() == [] and strat.record_near_misses() is strat.near_misses


def test_one_close_above_is_not_confirmed() -> None:
    # bar 1 sets BELOW; bar 2: 102 > 101, bar 3: 100.5 is not -> a run of 1 < 2 closes,
    # known at bar 3 and put at bar 2 (the run's last close)
    got, signals = misses(cfg(), make_bars([95, 95, 102, 100.5, 95]))
    assert signals == []
    assert got == [
        (
            2,
            "breakout resistance_100",
            "not confirmed: 1 close above 100.00 +1% (102.00), 2 needed; the next close "
            "100.50 was not",
        )
    ]


def test_two_closes_of_three_needed() -> None:
    got, _ = misses(cfg(confirm_closes=3), make_bars([95, 95, 95, 102, 103, 99]))
    assert [(i, w) for i, w, _ in got] == [(4, "breakout resistance_100")]
    assert "2 closes above 100.00 +1% (102.00, 103.00), 3 needed" in got[0][2]


def test_one_close_below_is_not_confirmed() -> None:
    # ABOVE from bar 1; bar 2: 98 < 99, bar 3: 99.5 is not -> breakdown not confirmed
    got, signals = misses(cfg(), make_bars([105, 105, 98, 99.5, 105]))
    assert signals == []
    assert got == [
        (
            2,
            "breakdown resistance_100",
            "not confirmed: 1 close below 100.00 -1% (98.00), 2 needed; the next close "
            "99.50 was not",
        )
    ]


def test_runs_on_the_side_already_taken_are_no_misses() -> None:
    # above a level that is ABOVE (1 close) and below one that is BELOW: nothing to give
    got, _ = misses(cfg(), make_bars([105, 105, 103, 100.5, 106]))
    assert got == []
    got, _ = misses(cfg(), make_bars([95, 95, 98, 99.5, 95]))
    assert got == []


def test_the_volume_rule_holds_each_confirmed_bar_back() -> None:
    c = cfg(volume_multiple=1.5, volume_lookback=3)
    closes = [95, 95, 95, 95, 102, 102, 102]
    volumes = [100, 100, 100, 100, 100, 140, 200]
    # bar 5: 140 / mean(100, 100, 100) = 1.40 < 1.5 -> held; bar 6: 200 / 113.3 -> breakout
    got, signals = misses(c, make_bars(closes, volumes=volumes))
    assert signals == [(6, SignalKind.BREAKOUT)]
    assert got == [
        (
            5,
            "breakout resistance_100",
            "held back: volume 1.40x the 3-bar mean < 1.5x (2 closes above 100.00 +1%: "
            "102.00, 102.00)",
        )
    ]


def test_the_rsi_filter_holds_breakouts_back() -> None:
    rsi = ta.momentum.RSIIndicator(pd.Series(RSI_CLOSES), 14).rsi()
    # as in test_rules: bars 20.. are above 101; RSI[21], RSI[22] >= 62, RSI[23] < 62
    got, signals = misses(cfg(rsi_filter=True, rsi_max=62), make_bars(RSI_CLOSES))
    assert signals == [(23, SignalKind.BREAKOUT)]
    assert [i for i, _, _ in got] == [21, 22]
    for i, _, reason in got:
        assert reason.startswith(f"held back: RSI {rsi[i]:.1f} >= 62 (2 closes above 100.00")


def test_every_failing_rule_is_named() -> None:
    c = cfg(volume_multiple=1.5, volume_lookback=3, rsi_filter=True, rsi_period=3, rsi_max=50)
    closes = [95, 95, 95, 95, 102, 103]  # rising: RSI(3) = 100 >= 50
    got, _ = misses(c, make_bars(closes, volumes=[100] * 6))
    assert [i for i, _, _ in got] == [5]
    assert got[0][2].startswith("held back: volume 1.00x the 3-bar mean < 1.5x; RSI 100.0 >= 50")


def test_peak_held_back_by_volume_names_the_level_of_each_first_confirming_close() -> None:
    # tests/test_rules.py HELD_*: confirmed at bars 7 and 8, volume 1.0x < 1.5x; the
    # first confirming closes (bars 6 and 7) broke the peaks 10 and 10.6
    c = peak_cfg(confirm_closes=2, volume_multiple=1.5, volume_lookback=3)
    got, signals = misses(c, make_bars(HELD_CLOSES, highs=HELD_HIGHS, volumes=HELD_VOLUMES))
    assert signals == [(9, SignalKind.BREAKOUT), (12, SignalKind.BREAKDOWN)]
    assert [(i, w) for i, w, _ in got] == [(7, "breakout peak_52w"), (8, "breakout peak_52w")]
    assert "above the 52-week peak 10.00 +0%: 10.50, 11.00" in got[0][2]
    assert "above the 52-week peak 10.60 +0%: 11.00, 11.80" in got[1][2]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"confirm_closes": 1, "volume_multiple": 1.2, "peak_lookback_sessions": 20},
        {"confirm_closes": 3, "rsi_filter": True, "adx_filter": True},
    ],
)
def test_recording_changes_no_signal(daily_bars, overrides) -> None:
    plain = LevelBreakout(LevelBreakoutConfig(**overrides))
    recording = LevelBreakout(LevelBreakoutConfig(**overrides))
    found: list[Rejection] = recording.record_near_misses()
    a = [s for bar in daily_bars for s in plain.on_bar(bar)]
    b = [s for bar in daily_bars for s in recording.on_bar(bar)]
    assert a == b and len(a) > 0
    assert len(found) > 0
    assert plain.status() == recording.status()
