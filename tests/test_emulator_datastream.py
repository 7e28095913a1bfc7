"""The emulator's market-data stream (/v2/{feed}) through the real alpaca-py StockDataStream.

A `StockDataStream(url_override=ws://127.0.0.1:<port>/v2/iex)` runs in a thread and
collects the parsed `Bar` models; the replay clock moves with POST /_emulator/advance.
The expected bars are data/BABA_1m_2026-01-29.csv read here with the csv module: regular
hours (09:30 to 16:00 ET) only, a later row winning a duplicated minute, rows off the
minute grid dropped (206 bars, 09:30 to 12:57). A bar stamped T ends at T + 1 minute.
Nothing asserts a duration: waits poll with generous time-outs, and "nothing else came"
is proven by order (a later bar arrives, and everything before it is as expected) or by
the server's own counts. Protocol details the SDK hides are checked with a raw client.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, NamedTuple

import msgpack
import pytest
import requests
from alpaca.data.enums import DataFeed
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.emulator import EmulatorServer, EmulatorState
from bot.models import ET

DATA_DIR = Path(__file__).parents[1] / "data"
MINUTE_CSV = DATA_DIR / "BABA_1m_2026-01-29.csv"
START = datetime(2026, 1, 29, 14, 30, tzinfo=UTC)  # 09:30 ET, the open
KEY, SECRET = "data-key", "data-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
MINUTE = timedelta(minutes=1)


class Row(NamedTuple):
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


def csv_minutes(path: Path = MINUTE_CSV) -> list[Row]:
    rows: dict[datetime, Row] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            t = datetime.fromisoformat(r["timestamp"]).replace(tzinfo=ET)
            if t.second or t.microsecond or not clock(9, 30) <= t.time() < clock(16):
                continue
            values = (float(r[k]) for k in ("open", "high", "low", "close", "volume"))
            rows[t] = Row(t.astimezone(UTC), *values)  # a later row wins
    return [rows[t] for t in sorted(rows)]


EXPECTED = csv_minutes()


def et(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 1, 29, hh, mm, ss, tzinfo=ET)


def ended_by(when: datetime, rows: list[Row] = EXPECTED) -> list[Row]:
    return [r for r in rows if r.ts + MINUTE <= when]


def same(bar: Bar, row: Row, symbol: str = "BABA") -> bool:
    prices = (bar.open, bar.high, bar.low, bar.close)
    return (
        bar.symbol == symbol
        and bar.timestamp == row.ts
        and prices == pytest.approx(tuple(row)[1:5], abs=1e-9)
        and bar.volume == row.volume
        and bar.vwap is not None
        and bar.trade_count is not None
    )


def until(cond: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorState(loaded.market, START), api_key=KEY, secret_key=SECRET) as s:
        yield s


def admin(server: EmulatorServer, route: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{server.url}/_emulator/{route}"
    if body is None:
        resp = requests.get(url, headers=ADMIN, timeout=5)
    else:
        resp = requests.post(url, json=body, headers=ADMIN, timeout=5)
    resp.raise_for_status()
    return resp.json()


def advance(server: EmulatorServer, until_: datetime) -> None:
    admin(server, "advance", {"until": until_.isoformat()})


def stats(server: EmulatorServer) -> dict[str, int]:
    return dict(admin(server, "datastream")["stats"])


class Sdk:
    """alpaca-py's StockDataStream in a thread, collecting (kind, Bar) in arrival order."""

    def __init__(self, server: EmulatorServer, secret: str = SECRET, **kw: Any) -> None:
        self.server = server
        feed = kw.pop("feed", DataFeed.IEX)
        url = server.data_stream_url(feed.value)
        self.stream = StockDataStream(KEY, secret, feed=feed, url_override=url, **kw)
        self.got: list[tuple[str, Bar]] = []
        self.thread = threading.Thread(target=self.stream.run, daemon=True)

    def handler(self, kind: str) -> Callable[[Bar], Any]:
        async def collect(bar: Bar) -> None:
            self.got.append((kind, bar))

        return collect

    def start(self, bars: tuple[str, ...] = (), updated: tuple[str, ...] = ()) -> Sdk:
        if bars:
            self.stream.subscribe_bars(self.handler("b"), *bars)
        if updated:
            self.stream.subscribe_updated_bars(self.handler("u"), *updated)
        self.thread.start()
        until(lambda: self.stream._loop is not None, what="the SDK's loop")
        return self

    def subscribed(self, symbol: str, connects: int = 1) -> None:
        def ready() -> bool:
            conns = admin(self.server, "datastream")["connections"]
            ok = [c for c in conns if c["authenticated"] and symbol in c["bars"]]
            return bool(ok) and stats(self.server).get("authenticated", 0) >= connects

        until(ready, what=f"a subscription to {symbol}")

    def bars(self, kind: str = "b") -> list[Bar]:
        return [b for k, b in list(self.got) if k == kind]

    def stop(self) -> None:
        # stop() is seen on the SDK's next receive (up to 5 s); a drop ends that wait.
        self.stream.stop()
        admin(self.server, "datastream", {"drop": True})
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_the_sdk_receives_exactly_the_minute_bars_that_ended(server: EmulatorServer) -> None:
    sdk = Sdk(server).start(bars=("BABA",), updated=("BABA",))
    try:
        sdk.subscribed("BABA")
        advance(server, et(11, 0, 30))
        first = ended_by(et(11, 0, 30))  # 09:30 .. 10:59 (10:45 once: 10:45:01 is off-grid)
        until(lambda: len(sdk.bars()) >= len(first), what="the morning's bars")
        advance(server, et(11, 0, 45))  # no bar ends in between
        advance(server, et(11, 1))  # the 11:00 bar ends: the next one to arrive
        until(lambda: len(sdk.bars()) > len(first))
        got = sdk.bars()
        assert got[len(first)].timestamp == et(11, 0).astimezone(UTC)
        assert all(same(b, r) for b, r in zip(got, ended_by(et(11, 1)), strict=True))
        advance(server, et(16, 0))
        until(lambda: len(sdk.bars()) >= len(EXPECTED), what="the rest of the day")
        advance(server, et(16, 0) + timedelta(days=1))  # 2026-01-30: no minute data
        assert all(same(b, r) for b, r in zip(sdk.bars(), EXPECTED, strict=True))
        assert len(EXPECTED) == 206 and stats(server)["bars_sent"] == 206
        assert sdk.bars("u") == []  # no revisions unless asked for (updated_bar_rate 0)
    finally:
        sdk.stop()


def test_updated_bars_revise_a_seeded_share_of_bars_30_seconds_after_they_end(
    server: EmulatorServer,
) -> None:
    admin(server, "datastream", {"updated_bar_rate": 0.25, "updated_bar_seed": 3})
    sdk = Sdk(server).start(bars=("BABA",), updated=("BABA",))
    try:
        sdk.subscribed("BABA")
        advance(server, et(16, 0))
        until(lambda: len(sdk.bars()) >= len(EXPECTED), what="the day's bars")
        sent = stats(server)["updatedBars_sent"]
        until(lambda: len(sdk.bars("u")) >= sent, what="the revisions")
        first, revised = sdk.bars(), {u.timestamp: u for u in sdk.bars("u")}
        assert 0 < len(revised) < len(EXPECTED) / 2
        for bar, row in zip(first, EXPECTED, strict=True):
            if bar.timestamp in revised:  # first without its late prints, then final
                assert not same(bar, row) and bar.volume < row.volume
                assert same(revised[bar.timestamp], row)
            else:
                assert same(bar, row)
        # A revision comes after its bar and before the next minute's bar.
        order = [(k, b.timestamp) for k, b in sdk.got]
        for ts in revised:
            at = order.index(("u", ts))
            assert order[at - 1] == ("b", ts) or order[at - 1][0] == "u"
            if ts + MINUTE <= EXPECTED[-1].ts:
                assert ("b", ts + MINUTE) not in order[:at]
    finally:
        sdk.stop()


def test_a_symbol_not_subscribed_is_not_received(loaded: EmulatorState, tmp_path: Path) -> None:
    shutil.copy(MINUTE_CSV, tmp_path / MINUTE_CSV.name)
    header, *rows = MINUTE_CSV.read_text().splitlines()
    lines = (
        [header]
        + [  # XYZ: BABA's bars one dollar higher
            ",".join([p[0], *(f"{float(x) + 1:.2f}" for x in p[1:5]), p[5]])
            for p in (row.split(",") for row in rows)
        ]
    )
    (tmp_path / "XYZ_1m_2026-01-29.csv").write_text("\n".join(lines) + "\n")
    xyz_rows = csv_minutes(tmp_path / "XYZ_1m_2026-01-29.csv")
    state = EmulatorState.from_dir(tmp_path, START)
    assert state.market.symbols == ["BABA", "XYZ"]
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as server:
        sdk = Sdk(server).start(bars=("BABA",))
        try:
            sdk.subscribed("BABA")
            advance(server, et(10, 0))
            until(lambda: len(sdk.bars()) >= 30, what="BABA's first half hour")
            sdk.stream.subscribe_bars(sdk.handler("b"), "XYZ")  # the SDK resends all
            sdk.subscribed("XYZ")
            advance(server, et(10, 5))
            until(lambda: len(sdk.bars()) >= 40, what="five minutes of both")
            got = sdk.bars()
            assert all(same(b, r) for b, r in zip(got[:30], EXPECTED[:30], strict=True))
            baba = [b for b in got[30:] if b.symbol == "BABA"]
            xyz = [b for b in got[30:] if b.symbol == "XYZ"]
            assert all(same(b, r) for b, r in zip(baba, EXPECTED[30:35], strict=True))
            # XYZ only from its subscription on, with its own prices.
            assert all(same(b, r, "XYZ") for b, r in zip(xyz, xyz_rows[30:35], strict=True))
            assert stats(server)["bars_sent"] == 40
        finally:
            sdk.stop()


def test_wrong_keys_get_auth_failed_and_no_bars(server: EmulatorServer) -> None:
    sdk = Sdk(server, secret="not-the-secret").start(bars=("BABA",))
    try:
        # The SDK takes 402 for a passing error and tries again after its backoff.
        until(lambda: stats(server).get("auth_failures", 0) >= 2, what="a retried auth")
        advance(server, et(10, 0))
        s = stats(server)
        assert s.get("authenticated", 0) == 0 and s.get("bars_sent", 0) == 0
        assert not any(c["authenticated"] for c in admin(server, "datastream")["connections"])
        assert sdk.got == []
    finally:
        sdk.stop()


def test_a_dropped_connection_is_reopened_by_the_sdk_and_bars_resume(
    server: EmulatorServer,
) -> None:
    sdk = Sdk(server).start(bars=("BABA",))
    try:
        sdk.subscribed("BABA")
        advance(server, et(10, 0))
        until(lambda: len(sdk.bars()) >= 30)
        admin(server, "datastream", {"drop": True})
        # The SDK waits at least 0.5 s before reconnecting: this advance is in the gap,
        # and the bars it passes are lost (Alpaca does not replay; REST catches up).
        advance(server, et(10, 30))
        sdk.subscribed("BABA", connects=2)
        advance(server, et(11, 0))
        after = [r for r in EXPECTED if et(10, 30) <= r.ts < et(11, 0)]  # 29: no 10:44 bar
        until(lambda: len(sdk.bars()) >= 30 + len(after), what="bars after the reconnect")
        got = sdk.bars()
        assert all(same(b, r) for b, r in zip(got[:30], EXPECTED[:30], strict=True))
        assert all(same(b, r) for b, r in zip(got[30:], after, strict=True))
        s = stats(server)
        assert s["connects"] == 2 and s["dropped"] == 1 and s["bars_sent"] == 30 + len(after)
    finally:
        sdk.stop()


def test_a_silent_stream_stays_open_and_loses_what_it_misses(server: EmulatorServer) -> None:
    sdk = Sdk(server).start(bars=("BABA",))
    try:
        sdk.subscribed("BABA")
        admin(server, "datastream", {"silent": 1.0})
        advance(server, et(10, 0))
        assert stats(server)["silenced"] == 30  # the advance came while it was silent
        until(lambda: not admin(server, "datastream")["silent"], what="the silence to end")
        advance(server, et(10, 5))
        until(lambda: len(sdk.bars()) >= 5)
        # The first bars ever received are 10:00 .. 10:04: the silent half hour is gone.
        assert all(same(b, r) for b, r in zip(sdk.bars(), EXPECTED[30:35], strict=True))
        s = stats(server)
        assert s["connects"] == 1 and "dropped" not in s  # the socket stayed up throughout
    finally:
        sdk.stop()


def test_sip_on_the_free_plan_is_refused_and_the_sdk_gives_up(server: EmulatorServer) -> None:
    sdk = Sdk(server, feed=DataFeed.SIP).start(bars=("BABA",))
    # "insufficient subscription" at auth ends alpaca-py's run() for good (no retry).
    sdk.thread.join(15)
    assert not sdk.thread.is_alive()
    assert stats(server)["insufficient_subscription"] == 1


# -- the protocol, with a raw client -------------------------------------------------------


def raw(server: EmulatorServer, feed: str = "iex", packed: bool = True) -> ClientConnection:
    headers = {"Content-Type": "application/msgpack"} if packed else {}
    return connect(server.data_stream_url(feed), additional_headers=headers)


def recv(ws: ClientConnection) -> list[dict[str, Any]]:
    frame = ws.recv(timeout=10)
    if isinstance(frame, bytes):
        return list(msgpack.unpackb(frame, timestamp=3))  # Timestamp as datetime
    return list(json.loads(frame))


def send(ws: ClientConnection, msg: dict[str, Any]) -> list[dict[str, Any]]:
    ws.send(msgpack.packb(msg))
    return recv(ws)


def error(code: int, msg: str) -> list[dict[str, Any]]:
    return [{"T": "error", "code": code, "msg": msg}]


AUTH = {"action": "auth", "key": KEY, "secret": SECRET}


def test_control_messages_and_errors_follow_alpacas_list(server: EmulatorServer) -> None:
    with raw(server) as ws:
        assert recv(ws) == [{"T": "success", "msg": "connected"}]
        assert send(ws, {"action": "subscribe", "bars": ["BABA"]}) == error(
            401, "not authenticated"
        )
        assert send(ws, {**AUTH, "secret": "x"}) == error(402, "auth failed")
        assert send(ws, AUTH) == [{"T": "success", "msg": "authenticated"}]
        assert send(ws, AUTH) == error(403, "already authenticated")
        assert send(ws, {"action": "dance"}) == error(400, "invalid syntax")
        assert send(ws, {"action": "subscribe", "bars": "BABA"}) == error(400, "invalid syntax")
        many = [f"S{i}" for i in range(31)]
        assert send(ws, {"action": "subscribe", "trades": many}) == error(
            405, "symbol limit exceeded"
        )
        ack = send(ws, {"action": "subscribe", "bars": ["baba"], "trades": ["AAPL"]})
        assert ack == [
            {
                "T": "subscription",
                **{"trades": ["AAPL"], "quotes": [], "bars": ["BABA"], "updatedBars": []},
                **{"dailyBars": [], "statuses": [], "lulds": []},
                **{"corrections": ["AAPL"], "cancelErrors": ["AAPL"]},
            }
        ]
        with raw(server) as second:  # one session per endpoint
            assert recv(second) == [{"T": "success", "msg": "connected"}]
            assert send(second, AUTH) == error(406, "connection limit exceeded")
            with pytest.raises(ConnectionClosed):
                second.recv(timeout=10)
        assert send(ws, {"action": "unsubscribe", "trades": ["AAPL"]})[0]["trades"] == []
    with pytest.raises(InvalidStatus) as refused:
        raw(server, feed="otc")
    assert refused.value.response.status_code == 404


def test_an_unauthenticated_socket_is_closed_after_the_auth_timeout(
    server: EmulatorServer,
) -> None:
    admin(server, "datastream", {"auth_timeout_s": 0.2})
    with raw(server) as ws:
        assert recv(ws) == [{"T": "success", "msg": "connected"}]
        assert recv(ws) == error(404, "auth timeout")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_json_clients_daily_bars_and_the_delayed_feed(server: EmulatorServer) -> None:
    with raw(server, packed=False) as ws:  # no msgpack header: JSON text frames
        assert recv(ws) == [{"T": "success", "msg": "connected"}]
        send(ws, AUTH)
        send(ws, {"action": "subscribe", "dailyBars": ["BABA"]})
        advance(server, et(9, 33))
        days = [recv(ws)[0] for _ in range(3)]
        for n, d in enumerate(days, start=1):
            part = EXPECTED[:n]
            assert d["T"] == "d" and d["S"] == "BABA" and d["t"] == "2026-01-29T05:00:00Z"
            want = (part[0].open, max(r.high for r in part), min(r.low for r in part))
            want += (part[-1].close, sum(r.volume for r in part))
            assert (d["o"], d["h"], d["l"], d["c"], d["v"]) == pytest.approx(want, abs=1e-9)
    with raw(server, feed="delayed_sip") as ws:  # bars 15 minutes late, on any plan
        recv(ws)
        send(ws, AUTH)
        send(ws, {"action": "subscribe", "bars": ["*"]})
        advance(server, et(10, 0))
        got = [m for _ in range(15) for m in recv(ws)]  # 09:30 .. 09:44, ended by 09:45
        assert [m["t"] for m in got] == [r.ts for r in ended_by(et(9, 45))]
        assert [m["c"] for m in got] == pytest.approx([r.close for r in ended_by(et(9, 45))])
        assert stats(server)["bars_sent"] == 15
    admin(server, "config", {"data_plan": "unlimited"})
    with raw(server, feed="sip") as ws:  # real-time SIP with a paid plan
        recv(ws)
        assert send(ws, AUTH) == [{"T": "success", "msg": "authenticated"}]
