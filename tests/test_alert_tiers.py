"""The alert tiers on a scripted minute series, against expectations worked out by hand
(level 100, approach 1%, re-arm 1%): which bar earns which alert, and which bars, by
the latch, earn none."""

from __future__ import annotations

import pytest

from bot.alerts.tiers import LevelTiers, TierAlert, TierConfig
from bot.models import Bar

T0 = 1_769_697_000_000_000_000  # 2026-01-29 09:30 ET
MIN = 60_000_000_000


def bar(i: int, close: float, high: float | None = None, low: float | None = None,
        volume: float = 1000.0) -> Bar:  # fmt: skip
    hi = max(close, high if high is not None else close)
    lo = min(close, low if low is not None else close)
    return Bar(T0 + i * MIN, close, hi, lo, close, volume, 20482, "XYZ")


# (bar, what it earns), by hand: level 100, approach within 1%, re-arm 1% away (approach:
# beyond 2%).
SCRIPT: list[tuple[Bar, list[tuple[str, str]]]] = [
    (bar(0, 97.0), []),  # 3% below: nothing yet
    (bar(1, 99.2), [("approaching", "up")]),  # within 1%
    (bar(2, 99.5), []),  # latched
    (bar(3, 99.8, high=100.3), [("crossed", "up")]),  # a wick through, closed back: provisional
    (bar(4, 99.9, high=100.4), []),  # hovering: the cross is latched until 1% away
    (bar(5, 98.5), []),  # 1.5% away: the cross re-arms (approach needs 2%)
    (bar(6, 100.6, high=101.0), [("crossed", "up")]),  # through, and closed above
    (bar(7, 100.8), []),  # still above
    (bar(8, 101.5), [("confirmed", "up")]),  # the strategy confirms (handed in below)
    (bar(9, 101.2, low=100.5), [("retest_held", "up")]),  # touched within 1%, closed above
    (bar(10, 101.0, low=100.2), []),  # one retest a confirmation
    (bar(11, 99.4, low=99.3), [("failed", "up")]),  # closed back below: the break failed
    (bar(12, 99.6), []),  # near, but the approach is still latched
    (bar(13, 97.0), []),  # 3% away: both re-arm
    (bar(14, 99.5), [("approaching", "up")]),
]


def run(cfg: TierConfig) -> list[list[TierAlert]]:
    tiers = LevelTiers("XYZ", {100.0: "resistance_100"}, cfg)
    out = []
    for b, _ in SCRIPT:
        got = tiers.on_bar(b)
        if b.ts == T0 + 8 * MIN:
            got += tiers.confirm(b, 100.0, "up", "2 closes above 100 +1%")
        out.append(got)
    return out


def test_each_bar_earns_what_the_script_says() -> None:
    got = run(TierConfig(approach_pct=1.0, rearm_pct=1.0))
    for (b, want), alerts in zip(SCRIPT, got, strict=True):
        assert [(a.tier, a.direction) for a in alerts] == want, (b, alerts)


def test_an_alert_says_what_a_message_needs() -> None:
    got = run(TierConfig())
    (cross,) = got[3]
    assert cross.provisional and cross.price == 100.3  # the high that crossed
    assert cross.distance_pct == pytest.approx(-0.2)  # the close, 99.8, vs 100
    assert "not confirmed" in cross.rule
    (confirmed,) = got[8]
    assert not confirmed.provisional and confirmed.rule == "2 closes above 100 +1%"
    (approach,) = got[1]
    assert approach.volume_ratio == pytest.approx(1.0)  # 1000 vs the mean 1000 before it
    assert got[0] == [] and approach.level_name == "resistance_100"
    # The same bar, level and tier give the same key (never a second alert of one event).
    assert cross.key() == f"XYZ:100:crossed:up:{T0 + 3 * MIN}"


def test_a_wick_crossing_many_times_in_a_minute_is_one_alert() -> None:
    tiers = LevelTiers("XYZ", {100.0: "r"}, TierConfig())
    tiers.on_bar(bar(0, 99.9))
    # Ten wicks in ten minutes, each through and back: one alert, the first.
    alerts = [a for i in range(1, 11) for a in tiers.on_bar(bar(i, 99.9, high=100.2))]
    assert [a.tier for a in alerts] == ["crossed"]


def test_tiers_turned_off_stay_silent() -> None:
    got = run(TierConfig(approaching=False, retest_held=False))
    tiers = [a.tier for alerts in got for a in alerts]
    assert "approaching" not in tiers and "retest_held" not in tiers
    assert tiers == ["crossed", "crossed", "confirmed", "failed"]


def test_down_through_a_level_from_above() -> None:
    tiers = LevelTiers("XYZ", {100.0: "r"}, TierConfig())
    assert tiers.on_bar(bar(0, 103.0)) == []
    (a,) = tiers.on_bar(bar(1, 100.2, low=99.7))
    assert (a.tier, a.direction, a.price) == ("crossed", "down", 99.7)
