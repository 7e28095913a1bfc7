"""Minute bars aggregated into 1m/5m/15m/30m/60m/1d bars (bot/data/aggregate.py).

The expected bars come from pandas' `resample` of the same minutes (buckets from 09:30 ET,
left-closed and left-labelled, first/max/min/last/sum, empty buckets dropped), after the
minutes outside each session's regular hours are dropped by hours written out here (16:00,
13:00 on the early closes): nothing of the code under test computes them. On the bundled
BABA morning and on synthetic sessions with an early close, a DST change and gaps (missing
minutes, a whole missing bucket, a missing last minute), for every timeframe:
- the incremental aggregator (then `flush()`) gives exactly the resampled bars;
- it gives each bar at the right minute: the one that ends the bucket, else the first minute
  after it; never earlier (no look-ahead), and its bar in progress is the minutes seen so far;
- the vectorised `aggregate` gives the same bars.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.data.aggregate import MinuteAggregator, aggregate
from bot.data.calendar import MarketCalendar
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.data.timeframe import MINUTE
from bot.models import ET, Bar, et_to_ns
from tests.conftest import MINUTE_CSV

TIMEFRAMES = ["1m", "5m", "15m", "30m", "60m", "1d"]
EARLY_CLOSES = {date(2025, 11, 28), date(2025, 12, 24)}  # 13:00 ET (NYSE)
# Fri before the DST change (2025-11-02), Mon after it, the day before Thanksgiving, the
# early close after it, a Monday, Christmas Eve (early close).
SESSIONS = [
    date(2025, 10, 31),
    date(2025, 11, 3),
    date(2025, 11, 26),
    date(2025, 11, 28),
    date(2025, 12, 1),
    date(2025, 12, 24),
]
MIN = pd.Timedelta(minutes=1)


@cache
def calendar() -> MarketCalendar:
    return MarketCalendar(date(2025, 10, 1), date(2026, 2, 27))


def hours(d: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    close = time(13) if d in EARLY_CLOSES else time(16)
    return (
        pd.Timestamp(datetime.combine(d, time(9, 30)), tz=ET),
        pd.Timestamp(datetime.combine(d, close), tz=ET),
    )


# ---------------------------------------------------------------- inputs and expectations


def synthetic(
    seed: int, drop: float = 0.05, holes: list[tuple[int, int]] | None = None
) -> BarSeries:
    """Minutes 09:00-16:30 ET of SESSIONS (pre-market and after the close included), a random
    walk with whole-share volumes; `drop` of them missing at random, and per session the
    given holes (start minute after 09:30, length) missing."""
    rng = np.random.default_rng(seed)
    stamps = []
    for d in SESSIONS:
        day = pd.date_range(
            pd.Timestamp(datetime.combine(d, time(9)), tz=ET), periods=450, freq="min"
        )
        keep = rng.random(len(day)) >= drop
        for first, length in holes or []:
            keep[30 + first : 30 + first + length] = False
        stamps.append(day[keep])
    ts = np.concatenate([s.as_unit("ns").asi8 for s in stamps])
    n = len(ts)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n)).round(2)
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.2, n).round(2)
    low = np.minimum(open_, close) - rng.uniform(0, 0.2, n).round(2)
    volume = rng.integers(0, 5000, n).astype("float64")
    et = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).tz_convert(ET)
    session = np.asarray((et.tz_localize(None).normalize() - pd.Timestamp("1970-01-01")).days)
    return BarSeries(
        ts, open_, high, low, close, volume, session.astype("int64"), MINUTE, "", "SYN"
    )


def regular_frame(minutes: BarSeries) -> pd.DataFrame:
    """The minutes inside their session's regular hours, as a frame on an ET index."""
    frame = minutes.to_frame()
    keep = [hours(t.date())[0] <= t < hours(t.date())[1] for t in frame.index]
    return frame[np.array(keep, dtype=bool)]


def resampled(minutes: BarSeries, timeframe: str) -> pd.DataFrame:
    frame = regular_frame(minutes)
    if timeframe == "1d":
        grouped = frame.resample("1D", label="left", closed="left")
    else:
        rule = f"{int(timeframe[:-1])}min"
        grouped = frame.resample(
            rule, origin="start_day", offset="9h30min", label="left", closed="left"
        )
    out = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    return out.dropna(subset=["open"])


def frame_of(bars: list[Bar]) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime([b.ts for b in bars], utc=True), name="time")
    columns = ("open", "high", "low", "close", "volume")
    return pd.DataFrame(
        {c: np.array([getattr(b, c) for b in bars], dtype="float64") for c in columns},
        index=index.tz_convert(ET),
    )


def run(minutes: BarSeries, timeframe: str) -> tuple[list[Bar], list[int | None]]:
    """Feed the minutes one by one: the bars given out, and after which minute each came
    (its position in `minutes`; None: from the final `flush()`)."""
    agg = MinuteAggregator(timeframe, calendar())
    out: list[Bar] = []
    when: list[int | None] = []
    for i, bar in enumerate(minutes.iter_bars()):
        got = agg.push(bar)
        out.extend(got)
        when.extend([i] * len(got))
    last = agg.flush()
    if last is not None:
        out.append(last)
        when.append(None)
    assert agg.flush() is None and agg.partial is None
    return out, when


def check(minutes: BarSeries, timeframe: str) -> None:
    expected = resampled(minutes, timeframe)
    assert len(expected) > 0
    bars, _ = run(minutes, timeframe)
    got = frame_of(bars)
    pd.testing.assert_frame_equal(
        got, expected, check_exact=True, check_freq=False, check_names=False
    )
    assert all(b.session == _day_number(b.ts) for b in bars)
    assert {b.symbol for b in bars} == {minutes.symbol}
    vectorised = aggregate(minutes, timeframe, calendar())
    assert str(vectorised.timeframe) == timeframe and vectorised.symbol == minutes.symbol
    for col in ("ts", "open", "high", "low", "close", "volume", "session"):
        np.testing.assert_array_equal(
            getattr(vectorised, col), np.array([getattr(b, col) for b in bars]), err_msg=col
        )


def _day_number(ts: int) -> int:
    t = pd.Timestamp(ts, tz="UTC").tz_convert(ET)
    return (t.date() - date(1970, 1, 1)).days


@pytest.fixture(scope="module")
def baba() -> BarSeries:
    return load_csv(MINUTE_CSV).bars


# ---------------------------------------------------------------- equal to pandas


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_the_baba_morning_equals_pandas_resample(baba: BarSeries, timeframe: str) -> None:
    check(baba, timeframe)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_sessions_with_gaps_an_early_close_and_dst_equal_pandas_resample(timeframe: str) -> None:
    # A whole 30-minute bucket missing (11:00-11:30), the first and the last minute missing.
    minutes = synthetic(1, drop=0.1, holes=[(90, 30), (0, 1), (389, 1)])
    check(minutes, timeframe)


def test_the_early_close_cuts_the_last_bucket_at_13_00() -> None:
    minutes = synthetic(2, drop=0.0)
    bars, _ = run(minutes, "60m")
    friday = [b for b in bars if b.time.date() == date(2025, 11, 28)]
    assert [b.time.strftime("%H:%M") for b in friday] == ["09:30", "10:30", "11:30", "12:30"]
    # 12:30-13:00 only: the minutes 13:00-16:30 that the synthetic day has are left out.
    frame = minutes.to_frame()
    half = frame[
        (frame.index >= hours(date(2025, 11, 28))[1] - 30 * MIN)
        & (frame.index < hours(date(2025, 11, 28))[1])
    ]
    assert friday[-1].volume == half["volume"].sum() and friday[-1].close == half["close"].iloc[-1]
    daily = {b.time.date(): b for b in run(minutes, "1d")[0]}
    assert daily[date(2025, 11, 28)].close == half["close"].iloc[-1]
    assert daily[date(2025, 11, 28)].time == datetime(2025, 11, 28, tzinfo=ET)
    # A normal day's last 1h bucket is 15:30-16:00.
    monday = [b.time.strftime("%H:%M") for b in bars if b.time.date() == date(2025, 12, 1)]
    assert monday[-1] == "15:30" and len(monday) == 7


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    drop=st.sampled_from([0.0, 0.3, 0.9]),
    holes=st.lists(st.tuples(st.integers(0, 389), st.integers(1, 120)), max_size=3),
    timeframe=st.sampled_from(TIMEFRAMES),
)
def test_random_gaps_equal_pandas_resample(
    seed: int, drop: float, holes: list[tuple[int, int]], timeframe: str
) -> None:
    check(synthetic(seed, drop, holes), timeframe)


# ---------------------------------------------------------------- when bars come out


def expected_emission(minutes: BarSeries, timeframe: str) -> list[int | None]:
    """After which minute each resampled bar is complete: the minute ending at the bucket's
    end if it is there, else the first minute after the bucket (of any hours), else the flush."""
    expected = resampled(minutes, timeframe)
    stamps = minutes.to_frame().index
    out: list[int | None] = []
    for label in expected.index:
        close = hours(label.date())[1]
        end = close if timeframe == "1d" else min(label + int(timeframe[:-1]) * MIN, close)
        inside = np.flatnonzero((stamps >= max(label, hours(label.date())[0])) & (stamps < end))
        j = int(inside[-1])
        if stamps[j] + MIN >= end:
            out.append(j)
        else:
            later = np.flatnonzero(stamps >= end)
            out.append(int(later[0]) if len(later) else None)
    return out


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
@pytest.mark.parametrize("source", ["baba", "synthetic"])
def test_each_bar_comes_out_when_its_bucket_is_over_never_before(
    baba: BarSeries, source: str, timeframe: str
) -> None:
    minutes = baba if source == "baba" else synthetic(3, drop=0.2, holes=[(90, 30), (389, 1)])
    _, when = run(minutes, timeframe)
    assert when == expected_emission(minutes, timeframe)


@pytest.mark.parametrize("timeframe", ["5m", "60m", "1d"])
def test_the_bar_in_progress_is_the_minutes_seen_so_far(timeframe: str) -> None:
    minutes = synthetic(4, drop=0.2, holes=[(90, 30), (389, 1)])
    agg = MinuteAggregator(timeframe, calendar())
    seen: dict[int, list[Bar]] = {}  # regular minutes pushed, by their bucket's label
    given_out: set[int] = set()
    current: int | None = None  # the bucket of the last regular minute pushed
    for bar in minutes.iter_bars():
        done = agg.push(bar)
        given_out.update(b.ts for b in done)
        if hours(bar.time.date())[0] <= bar.time < hours(bar.time.date())[1]:
            current = _label(bar, timeframe)
            seen.setdefault(current, []).append(bar)
        partial = agg.partial
        if current is None or current in given_out:
            assert partial is None
            continue
        bucket = seen[current]
        assert partial is not None and partial.ts == current
        assert partial.open == bucket[0].open and partial.close == bucket[-1].close
        assert partial.high == max(b.high for b in bucket)
        assert partial.low == min(b.low for b in bucket)
        assert partial.volume == sum(b.volume for b in bucket)
    assert given_out  # the checks above saw bars come out, and partial ones in between


def _label(bar: Bar, timeframe: str) -> int:
    t = bar.time
    if timeframe == "1d":
        return et_to_ns(datetime.combine(t.date(), time(0), tzinfo=ET))
    open_ = datetime.combine(t.date(), time(9, 30), tzinfo=ET)
    n = int(timeframe[:-1])
    return et_to_ns(open_ + timedelta(minutes=(t - open_) // timedelta(minutes=1) // n * n))


def test_flush_by_the_clock_waits_for_the_bucket_end_and_later_minutes_stay_out() -> None:
    minutes = synthetic(5, drop=0.0)
    agg = MinuteAggregator("15m", calendar())
    bars = list(minutes.iter_bars())
    k = next(i for i, b in enumerate(bars) if b.time.time() >= time(9, 37))
    for b in bars[:k]:  # pre-market and 09:30-09:36
        assert agg.push(b) == ()
    end = et_to_ns(datetime(2025, 10, 31, 9, 45, tzinfo=ET))
    assert agg.partial_end == end
    assert agg.flush(end - 1) is None and agg.partial is not None
    flushed = agg.flush(end)
    assert flushed is not None and flushed.time == datetime(2025, 10, 31, 9, 30, tzinfo=ET)
    assert agg.partial is None and agg.flush() is None
    assert bars[k].time.time() == time(9, 37)
    assert agg.push(bars[k]) == () and agg.late == 1 and agg.partial is None
    # A flush without a clock (the session closed early for the caller) closes it for good too.
    agg = MinuteAggregator("15m", calendar())
    for b in bars[:k]:
        agg.push(b)
    assert agg.flush() is not None
    assert agg.push(bars[k]) == () and agg.late == 1 and agg.partial is None


def test_minutes_out_of_order_or_outside_the_calendar_are_refused() -> None:
    minutes = synthetic(6, drop=0.0)
    agg = MinuteAggregator("5m", calendar())
    first, second = minutes.bar(40), minutes.bar(41)
    agg.push(second)
    with pytest.raises(ValueError, match="time order"):
        agg.push(first)
    with pytest.raises(ValueError, match="time order"):
        agg.push(second)
    short = MarketCalendar(date(2025, 12, 1), date(2025, 12, 31))
    with pytest.raises(ValueError, match="outside the market calendar"):
        MinuteAggregator("5m", short).push(first)
    with pytest.raises(ValueError, match="outside the market calendar"):
        aggregate(minutes, "5m", short)
    with pytest.raises(ValueError, match="1-minute"):
        aggregate(aggregate(minutes, "5m", calendar()), "15m", calendar())


def test_aggregate_builds_its_own_calendar_and_handles_no_regular_minutes(
    baba: BarSeries,
) -> None:
    np.testing.assert_array_equal(
        aggregate(baba, "30m").close, aggregate(baba, "30m", calendar()).close
    )
    premarket = load_csv(MINUTE_CSV, regular_hours_only=False).bars
    premarket = premarket.slice(0, 10)  # 08:08 onwards: no regular minute
    assert len(aggregate(premarket, "5m", calendar())) == 0
    assert len(aggregate(premarket.slice(0, 0), "5m", calendar())) == 0
