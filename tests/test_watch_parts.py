"""The pieces of `bot watch` one at a time (bot/alpaca/datastream.py, bot/watch/pipeline.py's
revisions, bot/watch/notices.py, bot/watch/rest.py).

Expected values are computed here independently of the code under test: timestamps by
hand (2026-01-29 is day 20482 since 1970-01-01: 56 years, 14 of them leap, plus 28 days),
bars of a timeframe with pandas' `resample`, alert ids with hashlib by the rule written in
bot/alerts/model.py, and the REST bars from the bundled CSV files read with the csv module.
The REST tests run the real alpaca-py client against the emulator on 127.0.0.1; its replay
clock moves only with POST /_emulator/advance, so nothing here depends on the wall clock.
"""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import requests
from alpaca.data.models import Bar as AlpacaBar

from bot.alpaca.datastream import bar_of, problem_of, stream_url
from bot.alpaca.marketdata import AlpacaMarketData
from bot.config_load import load_settings
from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.data.timeframe import Timeframe
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.live.retry import Retrier
from bot.models import ET, Bar, session_day
from bot.settings import Settings
from bot.watch import notices
from bot.watch.pipeline import SymbolWatch
from bot.watch.rest import RestBars
from tests.test_emulator_datastream import csv_minutes as datastream_csv_minutes

ROOT = Path(__file__).parents[1]
DAILY_CSV = ROOT / "data" / "BABA_1d.csv"
MINUTE_CSV = ROOT / "data" / "BABA_1m_2026-01-29.csv"
DAY = date(2026, 1, 29)
DAY_NUMBER = 20482  # 2026-01-29 as days since 1970-01-01, by hand (see the docstring)
NS = 1_000_000_000
# 2026-01-29 00:00 UTC in ns, by hand: 20482 days of 86400 s.
DAY_UTC_NS = DAY_NUMBER * 86_400 * NS
# 09:30 ET on 2026-01-29 (EST, UTC-5) is 14:30 UTC.
OPEN_NS = DAY_UTC_NS + (14 * 3600 + 30 * 60) * NS
MIN_NS = 60 * NS
KEY, SECRET = "parts-key", "parts-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def settings() -> Settings:
    return load_settings(None)  # tests/conftest.py points BOT_CONFIG at tests/fixtures/base.toml


def calendar() -> MarketCalendar:
    return MarketCalendar(date(2025, 1, 1), date(2026, 12, 31))


# ------------------------------------------------------------------ stream_url


@pytest.mark.parametrize(
    ("explicit", "data_url", "feed", "expected"),
    [
        ("wss://example.test/v2/iex", "http://127.0.0.1:8765", "iex", "wss://example.test/v2/iex"),
        (
            "ws://127.0.0.1:1/custom",
            "https://data.alpaca.markets",
            "sip",
            "ws://127.0.0.1:1/custom",
        ),
        ("", "http://127.0.0.1:8765", "iex", "ws://127.0.0.1:8765/v2/iex"),
        ("", "http://127.0.0.1:8765/", "sip", "ws://127.0.0.1:8765/v2/sip"),
        ("", "http://localhost:9/x", "iex", "ws://localhost:9/v2/iex"),
        ("", "https://data.alpaca.markets", "iex", "wss://stream.data.alpaca.markets/v2/iex"),
        ("", "https://data.alpaca.markets", "sip", "wss://stream.data.alpaca.markets/v2/sip"),
        # a loopback host without a port is not an emulator: Alpaca's stream
        ("", "http://127.0.0.1", "iex", "wss://stream.data.alpaca.markets/v2/iex"),
    ],
)
def test_stream_url(explicit: str, data_url: str, feed: str, expected: str) -> None:
    assert stream_url(explicit, data_url, feed) == expected


# ------------------------------------------------------------------ bar_of / problem_of


def alpaca_bar(t: str, o: float, h: float, lo: float, c: float, v: float) -> AlpacaBar:
    """alpaca-py's Bar as its stream hands it over (raw keys t, o, h, l, c, v, n, vw)."""
    return AlpacaBar("BABA", {"t": t, "o": o, "h": h, "l": lo, "c": c, "v": v, "n": 12, "vw": o})


def test_bar_of_reads_alpaca_bar() -> None:
    bar = bar_of(alpaca_bar("2026-01-29T14:31:00Z", 175.1, 175.9, 174.8, 175.5, 12345))
    # 14:31 UTC = 09:31 ET: 14 h 31 min after midnight UTC of day 20482
    assert bar.ts == (DAY_NUMBER * 86_400 + 14 * 3600 + 31 * 60) * NS
    assert bar.ts == 1_769_697_060 * NS
    assert bar.session == DAY_NUMBER == session_day(DAY)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        175.1,
        175.9,
        174.8,
        175.5,
        12345.0,
    )
    assert bar.symbol == "BABA"
    assert isinstance(bar.volume, float)


def test_bar_of_session_is_the_eastern_date() -> None:
    # 00:30 UTC on the 30th is 19:30 ET on the 29th: the 29th's session, not the 30th's
    bar = bar_of(alpaca_bar("2026-01-30T00:30:00Z", 1.0, 1.0, 1.0, 1.0, 1))
    assert bar.session == DAY_NUMBER
    assert bar.ts == (DAY_NUMBER * 86_400 + 24 * 3600 + 30 * 60) * NS


def test_bar_of_keeps_sub_second_part() -> None:
    bar = bar_of(alpaca_bar("2026-01-29T14:31:00.250Z", 1.0, 1.0, 1.0, 1.0, 1))
    assert bar.ts == 1_769_697_060 * NS + 250_000_000
    assert problem_of(bar) == "timestamp: not on the minute grid"


GOOD = Bar(OPEN_NS + MIN_NS, 175.1, 175.9, 174.8, 175.5, 1000.0, DAY_NUMBER, "BABA")


def test_problem_of_good_bar_is_empty() -> None:
    assert problem_of(GOOD) == ""
    assert problem_of(GOOD._replace(volume=0.0)) == ""  # no trades: a legal bar
    assert problem_of(GOOD._replace(high=175.5, low=175.5, open=175.5)) == ""  # flat bar


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"high": 174.0, "low": 175.0, "open": 174.5, "close": 174.5}, "high", "below low"),
        ({"close": math.nan}, "close", "not a finite number"),
        ({"volume": -1.0}, "volume", ">= 0"),
        ({"ts": OPEN_NS + MIN_NS + 30 * NS}, "timestamp", "minute grid"),
        ({"open": 0.0, "low": 0.0}, "open", "> 0"),
        ({"close": 176.5}, "close", "low-high range"),
    ],
)
def test_problem_of_names_the_field(change: dict[str, Any], field: str, words: str) -> None:
    why = problem_of(GOOD._replace(**change))
    assert why.startswith(f"{field}: "), why
    assert words in why


# ------------------------------------------------------------------ revisions


def minute(hh: int, mm: int, o: float, h: float, lo: float, c: float, v: float) -> Bar:
    ts = OPEN_NS + ((hh * 60 + mm) - (9 * 60 + 30)) * MIN_NS
    return Bar(ts, o, h, lo, c, v, DAY_NUMBER, "BABA")


# 09:30-09:44 ET: three 5-minute buckets; 09:39 is missing (its bucket closes on 09:40).
MINUTES = [
    minute(9, 30, 175.00, 175.40, 174.90, 175.30, 1000),
    minute(9, 31, 175.30, 175.60, 175.20, 175.50, 1100),
    minute(9, 32, 175.50, 175.55, 175.00, 175.10, 900),
    minute(9, 33, 175.10, 175.20, 174.70, 174.80, 1300),
    minute(9, 34, 174.80, 175.00, 174.60, 174.90, 800),
    minute(9, 35, 174.90, 175.10, 174.85, 175.00, 700),
    minute(9, 36, 175.00, 176.20, 174.95, 176.00, 2500),  # the bucket's high
    minute(9, 37, 176.00, 176.10, 175.60, 175.70, 1200),
    minute(9, 38, 175.70, 175.80, 175.40, 175.45, 600),
    minute(9, 40, 175.45, 175.60, 175.30, 175.55, 500),
    minute(9, 41, 175.55, 175.90, 175.50, 175.85, 650),
    minute(9, 42, 175.85, 175.95, 175.70, 175.75, 720),
    minute(9, 43, 175.75, 175.80, 175.20, 175.25, 810),
    minute(9, 44, 175.25, 175.40, 175.10, 175.35, 990),
]


def by_time(bars: list[Bar]) -> dict[int, Bar]:
    return {b.ts: b for b in bars}


def resampled(bars: list[Bar], rule: str) -> list[tuple[int, float, float, float, float, float]]:
    """OHLCV of `bars` by pandas: resample(rule, label left, closed left) in ET."""
    idx = pd.to_datetime([b.ts for b in bars], unit="ns", utc=True).tz_convert("America/New_York")
    df = pd.DataFrame(
        {
            "open": [b.open for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [b.volume for b in bars],
        },
        index=idx,
    )
    out = (
        df.resample(rule, label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    stamps = [int(t.value) for t in pd.DatetimeIndex(out.index)]
    cols = [[float(x) for x in out[k].to_numpy()] for k in ("open", "high", "low", "close")]
    volumes = [float(x) for x in out["volume"].to_numpy()]
    return list(zip(stamps, *cols, volumes, strict=True))


def ohlcv(bar: Bar) -> tuple[int, float, float, float, float, float]:
    return (bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)


def five_minute_watch() -> SymbolWatch:
    s = settings()
    return SymbolWatch(s.for_symbol("BABA"), "BABA", Timeframe("5m"), calendar())


def test_revision_of_the_bar_in_progress_is_in_the_closed_bar() -> None:
    watch = five_minute_watch()
    closed: list[Bar] = []
    # 09:36 lowered (it held the bucket's high) with a lower low, 09:35 with a new open and
    # a higher low (it held the bucket's low),
    # 09:38 (the bucket's last minute: 09:39 never comes) with a new close and volume,
    # 09:40 (first of the next bucket) with a new open and high.
    rev36 = MINUTES[6]._replace(high=175.65, low=174.90, close=175.60, volume=3100.0)
    rev35 = MINUTES[5]._replace(open=174.95, low=174.95, volume=900.0)
    rev38 = MINUTES[8]._replace(high=175.90, close=175.85, volume=640.0)
    rev40 = MINUTES[9]._replace(open=175.40, high=176.30, volume=555.0)
    revised = by_time(MINUTES)
    for m in MINUTES:
        closed += watch.on_minute(m).closed
        if m.ts == MINUTES[6].ts:  # 09:36 taken: revise it and 09:35 at once
            assert watch.revise(rev36) is True
            assert watch.revise(rev35) is True
            revised[rev36.ts], revised[rev35.ts] = rev36, rev35
        if m.ts == MINUTES[8].ts:  # 09:38 taken, the bar still open
            assert closed[-1].ts == OPEN_NS  # only 09:30's bar is out
            assert watch.revise(rev38) is True
            revised[rev38.ts] = rev38
        if m.ts == MINUTES[10].ts:  # 09:41 taken: 09:40 opened its bucket as it closed 09:35's
            assert watch.revise(rev40) is True
            revised[rev40.ts] = rev40
    expected = resampled(sorted(revised.values()), "5min")
    assert [ohlcv(b) for b in closed] == expected
    # by hand for the revised bucket: open 174.95 (09:35 revised), high 176.10 (09:37, as
    # 09:36 came down to 175.65), low 174.90 (09:36 revised, as 09:35's 174.85 went up),
    # close 175.85 (09:38 revised), volume summed
    volume = 900.0 + 3100.0 + 1200.0 + 640.0
    assert expected[1] == (OPEN_NS + 5 * MIN_NS, 174.95, 176.10, 174.90, 175.85, volume)
    assert expected[2][1:3] == (175.40, 176.30)  # 09:40 revised: open and high
    assert all(b.session == DAY_NUMBER and b.symbol == "BABA" for b in closed)


def test_revision_after_its_bar_closed_changes_nothing() -> None:
    watch = five_minute_watch()
    closed: list[Bar] = []
    for m in MINUTES[:11]:  # to 09:41: the 09:35 bar closed on 09:40, 09:40's in progress
        closed += watch.on_minute(m).closed
    before = watch.aggregator.partial
    wild = MINUTES[6]._replace(high=999.0, low=1.0, close=500.0, volume=10**7)
    assert watch.revise(wild) is False
    assert watch.aggregator.partial == before
    # a minute never seen is not a revision either
    assert watch.revise(minute(9, 39, 1.0, 999.0, 1.0, 500.0, 10**7)) is False
    for m in MINUTES[11:]:
        closed += watch.on_minute(m).closed
    assert [ohlcv(b) for b in closed] == resampled(MINUTES, "5min")


def test_revision_ignores_premarket_minutes() -> None:
    # The aggregator skips minutes outside regular hours (bot/data/aggregate.py); a
    # revision of the first bucket must not bring them back into its bar.
    watch = five_minute_watch()
    pre = [
        minute(9, 28, 170.0, 170.5, 169.0, 170.2, 50_000),
        minute(9, 29, 170.2, 171.0, 170.0, 170.9, 60_000),
    ]
    closed: list[Bar] = []
    for m in [*pre, *MINUTES[:2]]:
        closed += watch.on_minute(m).closed
    rev31 = MINUTES[1]._replace(close=175.55)
    assert watch.revise(rev31) is True
    for m in MINUTES[2:5]:
        closed += watch.on_minute(m).closed
    regular = [MINUTES[0], rev31, *MINUTES[2:5]]
    assert [ohlcv(b) for b in closed] == resampled(regular, "5min")


def test_revision_into_the_daily_bar_at_the_close() -> None:
    s = settings()
    watch = SymbolWatch(s.for_symbol("BABA"), "BABA", Timeframe("1d"), calendar())
    revised = list(MINUTES)
    for m in MINUTES:
        assert watch.on_minute(m).closed == ()
    rev = MINUTES[2]._replace(high=177.00, low=174.00, close=176.50, volume=4000.0)
    assert watch.revise(rev) is True
    revised[2] = rev
    last = watch.close_session()
    assert len(last.closed) == 1
    bar = last.closed[0]
    # the daily bar is stamped at midnight ET of the session (EST: 05:00 UTC)
    midnight = int(pd.Timestamp("2026-01-29", tz="America/New_York").value)
    assert midnight == DAY_UTC_NS + 5 * 3600 * NS
    df = pd.DataFrame([b._asdict() for b in revised])
    assert ohlcv(bar) == (
        midnight,
        float(df["open"].iloc[0]),
        float(df["high"].max()),
        float(df["low"].min()),
        float(df["close"].iloc[-1]),
        float(df["volume"].sum()),
    )
    assert (bar.high, bar.low) == (177.00, 174.00)  # the revised minute's, by hand
    assert bar.session == DAY_NUMBER and bar.symbol == "BABA"
    assert watch.revise(rev) is False  # the session is over


def test_restate_rebuilds_the_bar_in_progress() -> None:
    from bot.data.aggregate import MinuteAggregator

    agg = MinuteAggregator("5m", calendar())
    for m in MINUTES[5:8]:  # 09:35-09:37
        assert agg.push(m) == ()
    lowered = [
        MINUTES[5]._replace(low=175.00),  # it held the low (174.85): now 09:36's 174.95
        MINUTES[6]._replace(high=175.05, close=175.05, volume=10.0),
        MINUTES[7],
    ]
    agg.restate(lowered)
    assert agg.partial is not None
    assert ohlcv(agg.partial) == resampled(lowered, "5min")[0]
    assert (agg.partial.high, agg.partial.low) == (176.10, 174.95)  # 176.20, 174.85 gone


# ------------------------------------------------------------------ notices


def alert_id(kind: str, symbol: str, *parts: object) -> str:
    """bot/alerts/model.py's rule, written again: SHA-256 over kind, symbol and the parts
    joined with 0x1f, its first 64 bits in hex; `<kind>-<hex>` without a symbol."""
    text = "\x1f".join([kind, symbol, *map(str, parts)])
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def test_stream_silent_id_and_route() -> None:
    routes = settings().alerts.routes
    last = OPEN_NS + 14 * MIN_NS
    a = notices.stream_silent(routes, last, 130.0, 60.0)
    assert a.alert_id == alert_id("stream_silent", "", "watch", last)
    assert len(a.alert_id) == len("stream_silent-") + 16
    assert a.kind == "stream_silent" and a.symbol == ""
    assert a.channels == ("default",)
    # the same silence met again (a restart, another mute duration): the same id
    assert notices.stream_silent(routes, last, 400.0, 5.0).alert_id == a.alert_id
    # after another last bar: another silence
    other = notices.stream_silent(routes, last + MIN_NS, 130.0, 60.0)
    assert other.alert_id != a.alert_id
    assert other.alert_id == alert_id("stream_silent", "", "watch", last + MIN_NS)
    ops = routes.model_copy(update={"stream_silent": "ops"})
    assert notices.stream_silent(ops, last, 130.0, 60.0).channels == ("ops",)
    assert "09:44 ET" in a.body  # the last bar's time, ET


def test_stream_restored_id_and_route() -> None:
    routes = settings().alerts.routes
    since = OPEN_NS + 14 * MIN_NS
    a = notices.stream_restored(routes, since)
    assert a.alert_id == alert_id("stream_restored", "", "watch", since)
    assert notices.stream_restored(routes, since).alert_id == a.alert_id
    assert notices.stream_restored(routes, since + MIN_NS).alert_id != a.alert_id
    assert a.channels == ("default",)
    # stream_silent's route is its own
    ops = routes.model_copy(update={"stream_silent": "ops"})
    assert notices.stream_restored(ops, since).channels == ("default",)
    pager = routes.model_copy(update={"stream_restored": "pager"})
    assert notices.stream_restored(pager, since).channels == ("pager",)
    # a silent and a restored alert about the same bar are two alerts
    assert notices.stream_silent(routes, since, 1.0, 1.0).alert_id != a.alert_id


def test_daily_summary_id_route_and_body() -> None:
    routes = settings().alerts.routes
    watch = five_minute_watch()
    for m in MINUTES:
        watch.on_minute(m)
    watches = {"BABA": watch}
    a = notices.daily_summary(routes, DAY, {"BABA": ["crossed 175"]}, watches)
    assert a.alert_id == alert_id("daily_summary", "", "watch", "2026-01-29")
    # one summary a session: made again with other contents, the same id
    assert notices.daily_summary(routes, DAY, {}, watches).alert_id == a.alert_id
    later = notices.daily_summary(routes, date(2026, 1, 30), {}, watches)
    assert later.alert_id == alert_id("daily_summary", "", "watch", "2026-01-30")
    assert later.alert_id != a.alert_id
    assert a.channels == ("default",)
    daily = routes.model_copy(update={"daily_summary": "digest", "stream_silent": "ops"})
    assert notices.daily_summary(daily, DAY, {}, watches).channels == ("digest",)
    assert a.body == "BABA (last 175.35): 1 alert(s): crossed 175"  # 09:44's close


# ------------------------------------------------------------------ RestBars on the emulator


class Row(NamedTuple):
    ts: int  # UTC ns
    open: float
    high: float
    low: float
    close: float
    volume: float


def csv_minutes(path: Path = MINUTE_CSV) -> list[Row]:
    """The minute file's regular-hours bars as tests/test_emulator_datastream.py reads them
    (09:30 <= t < 16:00 ET, a later row winning a repeated minute, off-grid rows dropped),
    stamped in UTC ns."""
    return [Row(int(r.ts.timestamp()) * NS, r.open, r.high, r.low, r.close, r.volume)
            for r in datastream_csv_minutes(path)]  # fmt: skip


def csv_daily(day: str) -> Row:
    with DAILY_CSV.open(newline="") as f:
        for r in csv.DictReader(f):
            if r["timestamp"] == day:
                values = (float(r[k]) for k in ("open", "high", "low", "close", "volume"))
                return Row(int(pd.Timestamp(day, tz="America/New_York").value), *values)
    raise AssertionError(f"no {day} row in {DAILY_CSV}")


EXPECTED = csv_minutes()


def et(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 1, 29, hh, mm, ss, tzinfo=ET)


def ns(when: datetime) -> int:
    return int(when.astimezone(UTC).timestamp()) * NS


def rows_of(bars: list[Bar]) -> list[Row]:
    return [Row(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    d = tmp_path / "market"
    d.mkdir()
    shutil.copy(DAILY_CSV, d / DAILY_CSV.name)
    shutil.copy(MINUTE_CSV, d / MINUTE_CSV.name)
    state = EmulatorState.from_dir(d, et(9, 30).astimezone(UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


def advance(server: EmulatorServer, until: datetime) -> None:
    r = requests.post(
        f"{server.url}/_emulator/advance",
        json={"until": until.astimezone(UTC).isoformat()},
        headers=ADMIN,
        timeout=10,
    )
    r.raise_for_status()


def rest_bars(server: EmulatorServer, daily_feed: str = "iex") -> RestBars:
    cfg = settings().alpaca
    minutes = AlpacaMarketData(
        cfg.model_copy(update={"data_url": server.url, "feed": "iex"}), KEY, SECRET
    )
    daily = AlpacaMarketData(
        cfg.model_copy(update={"data_url": server.url, "feed": daily_feed}), KEY, SECRET
    )
    return RestBars(minutes, daily, calendar(), Retrier(base_s=0.01, cap_s=0.05))


def test_reference_reader_of_the_bundled_minutes() -> None:
    # what the CSV holds, counted by hand: 09:30-12:57, 206 distinct minutes on the grid
    assert len(EXPECTED) == 206
    assert EXPECTED[0].ts == OPEN_NS and EXPECTED[-1].ts == OPEN_NS + 207 * MIN_NS
    assert [r.ts for r in EXPECTED] == sorted({r.ts for r in EXPECTED})


def test_closed_minutes_from_the_open(server: EmulatorServer) -> None:
    rest = rest_bars(server)
    advance(server, et(10, 15, 30))
    now = ns(et(10, 15, 30))
    got = rest.closed_minutes("BABA", OPEN_NS - 1, now)
    want = [r for r in EXPECTED if r.ts + MIN_NS <= now]
    assert rows_of(got) == want
    assert want[-1].ts == ns(et(10, 14))  # 10:15 has not ended
    assert all(b.session == DAY_NUMBER and b.symbol == "BABA" for b in got)


def test_closed_minutes_after_a_minute_and_up_to_now(server: EmulatorServer) -> None:
    rest = rest_bars(server)
    advance(server, et(11, 0))
    after = ns(et(10, 0))  # the last minute seen: not again
    now = ns(et(10, 30, 30))  # behind the emulator's clock: 10:30 has not ended by then
    got = rest.closed_minutes("BABA", after, now)
    want = [r for r in EXPECTED if after < r.ts and r.ts + MIN_NS <= now]
    assert rows_of(got) == want
    assert (want[0].ts, want[-1].ts) == (ns(et(10, 1)), ns(et(10, 29)))
    # 10:09 is in the file twice: the later row is the one served
    assert [r for r in rows_of(got) if r.ts == ns(et(10, 9))] == [
        r for r in EXPECTED if r.ts == ns(et(10, 9))
    ]
    # the first minute after `after`, once it has ended (and the one still running left out)
    assert rows_of(rest.closed_minutes("BABA", after, after + 2 * MIN_NS)) == want[:1]
    assert rows_of(rest.closed_minutes("BABA", OPEN_NS - 1, OPEN_NS + MIN_NS)) == EXPECTED[:1]
    # nothing ended within a minute after `after`
    assert rest.closed_minutes("BABA", after, after + MIN_NS) == []


def test_closed_minutes_whole_session(server: EmulatorServer) -> None:
    rest = rest_bars(server)
    advance(server, et(16, 5))
    got = rest.closed_minutes("BABA", OPEN_NS - 1, ns(et(16, 5)))
    assert rows_of(got) == EXPECTED  # off-grid 10:45:01 and the pre-market rows left out


def test_official_daily_iex(server: EmulatorServer) -> None:
    rest = rest_bars(server, "iex")
    advance(server, et(15, 59, 59))
    # the data API already serves today's bar as it stands: it must not be taken
    assert rest.official_daily("BABA", DAY, ns(et(15, 59, 59))) is None
    advance(server, et(16, 10))  # the emulator's late prints are in 600 s after the close
    bar = rest.official_daily("BABA", DAY, ns(et(16, 10)))
    assert bar is not None
    assert Row(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume) == csv_daily(
        "2026-01-29"
    )
    assert bar.session == DAY_NUMBER


def test_official_daily_sip_waits_for_the_delay(server: EmulatorServer) -> None:
    rest = rest_bars(server, "sip")
    # feed "sip" with sip_delay_s = 900: asks for data 900 + 60 s old, so the 16:00 close
    # is visible from 16:16:00
    assert settings().alpaca.sip_delay_s == 900.0
    advance(server, et(16, 15, 59))
    assert rest.official_daily("BABA", DAY, ns(et(16, 15, 59))) is None
    advance(server, et(16, 16))
    bar = rest.official_daily("BABA", DAY, ns(et(16, 16)))
    assert bar is not None
    assert Row(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume) == csv_daily(
        "2026-01-29"
    )


# ------------------------------------------------------------------ RestBars without a server


class FakeMinutes:
    """A BarSource serving fixed minute bars, whatever is asked (pre- and after-hours too)."""

    delay = timedelta(0)

    def __init__(self, bars: list[Bar]) -> None:
        self.series = BarSeries(
            np.array([b.ts for b in bars], dtype=np.int64),
            np.array([b.open for b in bars]),
            np.array([b.high for b in bars]),
            np.array([b.low for b in bars]),
            np.array([b.close for b in bars]),
            np.array([b.volume for b in bars]),
            np.array([b.session for b in bars], dtype=np.int64),
            Timeframe("1m"),
            "fake",
            "BABA",
        )
        self.asked: list[tuple[datetime, datetime]] = []

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> BarSeries:
        self.asked.append((start, end))
        return self.series


def test_closed_minutes_keeps_regular_hours_only() -> None:
    sat = date(2026, 1, 31)  # a Saturday: no session
    sat_ns = int(pd.Timestamp("2026-01-31 10:00", tz="America/New_York").value)
    bars = [
        minute(9, 29, 175.0, 175.0, 175.0, 175.0, 10),  # pre-market
        minute(9, 30, 175.0, 175.5, 174.5, 175.2, 10),
        minute(15, 59, 175.0, 175.5, 174.5, 175.2, 10),
        minute(16, 0, 175.0, 175.0, 175.0, 175.0, 10),  # after-hours
        Bar(sat_ns, 175.0, 175.0, 175.0, 175.0, 10.0, session_day(sat), "BABA"),
    ]
    fake = FakeMinutes(bars)
    rest = RestBars(fake, fake, calendar(), Retrier(base_s=0.01, cap_s=0.05))
    got = rest.closed_minutes("BABA", OPEN_NS - 2 * MIN_NS, sat_ns + 2 * MIN_NS)
    assert [b.ts for b in got] == [OPEN_NS, OPEN_NS + 389 * MIN_NS]  # 09:30 and 15:59
    assert len(fake.asked) == 1
