"""The emulator's trade-updates stream (/stream) through the real alpaca-py TradingStream.

Orders go in with TradingClient, the replay clock moves with POST /_emulator/advance,
and a `TradingStream(url_override=ws://127.0.0.1:<port>/stream)` running in a thread
collects the parsed `TradeUpdate` models. Prices are read off data/BABA_1d.csv by hand:

    2025-08-29  open 128.88  high 136.65  low 128.51  close 135.00   (a Friday)
    2025-09-02  open 134.47  high 138.83  low 133.06  close 138.55   (after Labor Day)
    2025-09-03  open 136.70  high 137.77  low 135.58  close 136.45
    2025-09-04  open 133.16  high 134.25  low 130.06  close 130.92

The clock starts at the 2025-08-29 close (20:00 UTC = 16:00 ET), zero slippage. Nothing
here asserts a duration: waits poll with generous time-outs, and "nothing arrived" is
proven by order (a later event arrives, the earlier one never did).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order, TradeUpdate
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)
from alpaca.trading.stream import TradingStream
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.emulator import EmulatorServer, EmulatorState

DATA_DIR = Path(__file__).parents[1] / "data"
START = datetime(2025, 8, 29, 20, 0, tzinfo=UTC)  # the 2025-08-29 close
KEY, SECRET = "stream-key", "stream-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
AUTH = {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}
LISTEN = {"action": "listen", "data": {"streams": ["trade_updates"]}}


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    state = EmulatorState(loaded.market, START, initial_cash=100_000.0, slippage_bps=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        # Whole fills, so that the prices below are the CSV's; partial fills have a test.
        if "partial_fill_rate" in admin(srv, "config", {}):
            admin(srv, "config", {"partial_fill_rate": 0})
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=server.url)


def admin(server: EmulatorServer, route: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{server.url}/_emulator/{route}"
    if body is None:
        resp = requests.get(url, headers=ADMIN, timeout=5)
    else:
        resp = requests.post(url, json=body, headers=ADMIN, timeout=5)
    resp.raise_for_status()
    return resp.json()


def wait_until(what: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def stream_stat(server: EmulatorServer, name: str) -> int:
    report = admin(server, "stream")
    return int(report[name] if name in report else report["stats"].get(name, 0))


def name(u: TradeUpdate) -> str:
    return str(getattr(u.event, "value", u.event))


class Listener:
    """alpaca-py's TradingStream run in a thread, as a bot runs it."""

    def __init__(self, port: int, key: str, secret: str) -> None:
        url = f"ws://127.0.0.1:{port}/stream"
        self.stream = TradingStream(key, secret, paper=True, url_override=url)
        self.updates: list[TradeUpdate] = []
        self._cond = threading.Condition()
        self.stream.subscribe_trade_updates(self._on_update)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)
        self.thread.start()

    async def _on_update(self, update: TradeUpdate) -> None:
        with self._cond:
            self.updates.append(update)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 15.0) -> list[TradeUpdate]:
        """The first `count` updates, once they are in."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.updates) >= count, timeout)
            assert ok, f"{len(self.updates)} updates arrived, {count} expected"
            return list(self.updates)

    def stop(self) -> None:
        wait_until(lambda: self.stream._loop is not None)  # run() has started its loop
        self.stream.stop()


@pytest.fixture
def listen(server: EmulatorServer) -> Iterator[Callable[..., Listener]]:
    """Start a TradingStream; by default wait until the emulator has it listening."""
    made: list[Listener] = []

    def start(key: str = KEY, secret: str = SECRET, wait: bool = True) -> Listener:
        listener = Listener(server.port, key, secret)
        made.append(listener)
        if wait:
            wait_until(lambda: stream_stat(server, "listeners") == 1)
        return listener

    yield start
    for listener in made:
        listener.stop()
    # stop() takes effect on the SDK's next 5 s receive time-out; a server-side close
    # ends that wait at once (its reconnect loop then sees it was told to stop).
    admin(server, "stream", {"drop": True, "refuse_connects": False})
    for listener in made:
        listener.thread.join(10)
        assert not listener.thread.is_alive()


def market(
    qty: float, side: OrderSide, cid: str, tif: TimeInForce = TimeInForce.DAY, **kw: Any
) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="BABA", qty=qty, side=side, time_in_force=tif, client_order_id=cid, **kw
    )


def limit(price: float, cid: str, tif: TimeInForce = TimeInForce.GTC) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="BABA",
        qty=100,
        side=OrderSide.BUY,
        time_in_force=tif,
        limit_price=price,
        client_order_id=cid,
    )


def advance(server: EmulatorServer, until: str) -> None:
    admin(server, "advance", {"until": until})


def submit(client: TradingClient, req: Any) -> Order:
    order = client.submit_order(req)
    assert isinstance(order, Order)
    return order


# ---------------------------------------------------------------- events the SDK parses


def test_market_buy_is_accepted_then_new_then_filled_and_the_sell_flattens(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    placed = submit(client, market(100, OrderSide.BUY, "buy-1"))
    got = stream.wait(1)
    assert [name(u) for u in got] == ["accepted"]  # the market is closed: not routed yet
    assert got[0].order.id == placed.id and got[0].order.status == OrderStatus.ACCEPTED
    assert got[0].timestamp == START and got[0].qty is None and got[0].execution_id is None

    advance(server, "2025-09-02T15:00:00Z")
    got = stream.wait(3)
    assert [name(u) for u in got] == ["accepted", "new", "fill"]
    new, fill = got[1], got[2]
    assert new.order.status == OrderStatus.NEW and new.order.filled_qty == "0"
    # Routed and filled at the 2025-09-02 open (09:30 ET = 13:30 UTC), at 134.47.
    assert new.timestamp == fill.timestamp == datetime(2025, 9, 2, 13, 30, tzinfo=UTC)
    assert fill.order.status == OrderStatus.FILLED and fill.order.filled_avg_price == "134.47"
    assert (fill.qty, fill.price, fill.position_qty) == (100.0, 134.47, 100.0)
    assert isinstance(fill.execution_id, UUID)

    sell = submit(client, market(100, OrderSide.SELL, "sell-1"))  # 11:00 ET: open market
    assert [name(u) for u in stream.wait(4)][3:] == ["new"]
    advance(server, "2025-09-03T15:00:00Z")
    last = stream.wait(5)[4]
    assert name(last) == "fill" and last.order.id == sell.id
    assert (last.qty, last.price, last.position_qty) == (100.0, 136.7, 0.0)  # 09-03 open
    assert last.execution_id != fill.execution_id
    assert len(stream.updates) == 5


def test_cancel_with_latency_is_pending_cancel_then_canceled_without_a_request(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    admin(server, "config", {"cancel_latency_s": 0.3})
    stream = listen()
    order = submit(client, limit(120, "cheap"))
    advance(server, "2025-09-02T15:00:00Z")  # 09-02 low 133.06: 120 is not reached
    assert [name(u) for u in stream.wait(2)] == ["accepted", "new"]
    client.cancel_order_by_id(order.id)
    # The canceled event comes from the emulator's timer: no request is made meanwhile.
    got = stream.wait(4)
    assert [name(u) for u in got[2:]] == ["pending_cancel", "canceled"]
    assert got[2].order.status == OrderStatus.PENDING_CANCEL
    assert got[3].order.status == OrderStatus.CANCELED and got[3].order.canceled_at is not None
    final = client.get_order_by_id(order.id)
    assert isinstance(final, Order) and final.status == OrderStatus.CANCELED


def test_replace_is_pending_replace_then_replaced_and_the_new_order_is_new(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    admin(server, "config", {"replace_latency_s": 0.3})
    stream = listen()
    old = submit(client, limit(120, "moving"))
    advance(server, "2025-09-02T15:00:00Z")
    stream.wait(2)
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=121))
    assert isinstance(new, Order)
    got = stream.wait(5)[2:]
    assert [(name(u), u.order.id) for u in got] == [
        ("pending_replace", old.id),
        ("new", new.id),  # the replacement works at once
        ("replaced", old.id),  # the old one is done when the latency has run out
    ]
    assert got[2].order.status == OrderStatus.REPLACED and got[2].order.replaced_by == new.id
    assert got[1].order.replaces == old.id and got[1].order.limit_price == "121"

    admin(server, "config", {"replace_latency_s": 0})  # at once: replaced, then new
    newer = client.replace_order_by_id(new.id, ReplaceOrderRequest(limit_price=122))
    assert isinstance(newer, Order)
    got = stream.wait(7)[5:]
    assert [(name(u), u.order.id) for u in got] == [("replaced", new.id), ("new", newer.id)]


def test_bracket_fills_stop_and_cancels_the_take_profit_with_positions_in_order(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    parent = submit(
        client,
        market(
            100,
            OrderSide.BUY,
            "br",
            TimeInForce.GTC,  # a day bracket's legs would expire at the 09-02 close
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=140),
            stop_loss=StopLossRequest(stop_price=131),
        ),
    )
    stream.wait(1)
    advance(server, "2025-09-05T15:00:00Z")
    # One advance, one batch, in time order: the entry at the 09-02 open (134.47); the
    # legs go live (held -> new is no event); 09-04 opens 133.16 and trades down to
    # 130.06 <= 131: the stop fills at 131, the take-profit (high 134.25 < 140) is canceled.
    got = stream.wait(5)
    assert [name(u) for u in got] == ["accepted", "new", "fill", "fill", "canceled"]
    assert got[2].order.id == parent.id and (got[2].price, got[2].position_qty) == (134.47, 100)
    stop, tp = got[3], got[4]
    assert stop.order.type is not None and stop.order.type.value == "stop"
    assert (stop.qty, stop.price, stop.position_qty) == (100, 131, 0)  # after it, not now
    assert stop.timestamp == datetime(2025, 9, 4, 13, 30, tzinfo=UTC)
    assert tp.order.type is not None and tp.order.type.value == "limit"
    assert tp.order.status == OrderStatus.CANCELED
    legs = got[2].order.legs or []  # the full order, legs nested as REST gives them
    assert {leg.id for leg in legs} == {stop.order.id, tp.order.id}


OPENS = {"2025-09-02": 134.47, "2025-09-03": 136.7, "2025-09-04": 133.16, "2025-09-05": 135.03}


def test_partial_fills_are_one_event_each_with_their_own_price_and_position(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    if "partial_fill_rate" not in admin(server, "config", {}):
        pytest.skip("this emulator has no partial fills")
    admin(server, "config", {"partial_fill_rate": 1.0})  # every fill of 2+ shares is a part
    stream = listen()
    order = submit(client, market(100, OrderSide.BUY, "parts", TimeInForce.GTC))
    advance(server, "2025-09-05T15:00:00Z")  # one advance, four sessions: one batch
    final = client.get_order_by_id(order.id)
    assert isinstance(final, Order)
    total = float(final.filled_qty or 0)
    wait_until(lambda: sum(u.qty or 0 for u in stream.updates) >= total)
    got = stream.updates
    assert [name(u) for u in got[:2]] == ["accepted", "new"]
    fills, position = got[2:], 0.0
    assert len(fills) >= 2 and {name(u) for u in fills[:-1]} == {"partial_fill"}
    for u in fills:  # a market order's part fills at the open of its session
        assert u.qty is not None and u.timestamp.strftime("%H:%M") == "13:30"
        assert u.price == OPENS[u.timestamp.date().isoformat()]
        position += u.qty
        assert u.position_qty == position and float(u.order.filled_qty or 0) == position
    assert position == total and len({u.execution_id for u in fills}) == len(fills)
    assert name(fills[-1]) == ("fill" if total == 100 else "partial_fill")


def test_day_order_expires_and_an_accepted_order_can_be_rejected(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    day = submit(client, limit(120, "day", TimeInForce.DAY))  # for the 09-02 session
    advance(server, "2025-09-02T20:00:00Z")  # 16:00 ET, the close; the low was 133.06
    got = stream.wait(3)
    assert [name(u) for u in got] == ["accepted", "new", "expired"]
    assert got[2].order.id == day.id and got[2].order.status == OrderStatus.EXPIRED
    assert got[2].timestamp == datetime(2025, 9, 2, 20, 0, tzinfo=UTC)
    admin(server, "faults", {"reject_next": 1})
    doomed = submit(client, market(10, OrderSide.BUY, "doomed"))
    advance(server, "2025-09-03T15:00:00Z")
    got = stream.wait(5)[3:]
    assert [name(u) for u in got] == ["accepted", "rejected"]
    assert got[1].order.id == doomed.id and got[1].order.failed_at is not None


# ---------------------------------------------------------------- connections


def raw(server: EmulatorServer) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}/stream", open_timeout=5)


def frame(ws: ClientConnection) -> dict[str, Any]:
    message = ws.recv(timeout=10)
    assert isinstance(message, bytes)  # binary frames, as Alpaca's paper endpoint sends
    out = json.loads(message)
    assert isinstance(out, dict)
    return out


def test_protocol_frames_as_alpaca_sends_them(
    server: EmulatorServer, client: TradingClient
) -> None:
    with raw(server) as ws:
        ws.send(json.dumps(AUTH))
        assert frame(ws) == {
            "stream": "authorization",
            "data": {"action": "authenticate", "status": "authorized"},
        }
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates", "x"]}}))
        assert frame(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        submit(client, market(1, OrderSide.BUY, "one"))
        update = frame(ws)
        assert update["stream"] == "trade_updates"
        assert update["data"]["event"] == "accepted"
        assert update["data"]["order"]["client_order_id"] == "one"
        ws.send(json.dumps({"action": "listen", "data": {"streams": []}}))  # stop updates
        assert frame(ws) == {"stream": "listening", "data": {"streams": []}}
        assert stream_stat(server, "listeners") == 0
    with raw(server) as ws:  # listening before authenticating is refused
        ws.send(json.dumps(LISTEN))
        assert frame(ws)["data"] == {"action": "listen", "status": "unauthorized"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_wrong_keys_do_not_authenticate(
    server: EmulatorServer, listen: Callable[..., Listener]
) -> None:
    with raw(server) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": "x"}}))
        assert frame(ws) == {
            "stream": "authorization",
            "data": {"action": "authenticate", "status": "unauthorized"},
        }
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    stream = listen(secret="wrong", wait=False)
    wait_until(lambda: stream_stat(server, "auth_failures") >= 2)  # the SDK's try
    assert stream_stat(server, "authorized") == 0 and stream_stat(server, "listeners") == 0
    assert stream.updates == []


def test_a_second_connection_is_refused_with_429_and_the_knob_changes_that(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    first = listen()
    with pytest.raises(InvalidStatus) as refused:
        raw(server)
    assert refused.value.response.status_code == 429
    second = listen(wait=False)  # the SDK's own attempt, refused the same way
    wait_until(lambda: stream_stat(server, "refused") >= 2)
    second.stop()
    submit(client, market(1, OrderSide.BUY, "a"))
    assert [u.order.client_order_id for u in first.wait(1)] == ["a"]
    assert second.updates == []

    admin(server, "stream", {"second_connection": "error"})
    with raw(server) as ws:
        ws.send(json.dumps(AUTH))
        data = frame(ws)["data"]
        assert data["status"] == "unauthorized" and data["error"] == "connection limit exceeded"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)

    admin(server, "stream", {"second_connection": "allow"})
    with raw(server) as ws:
        ws.send(json.dumps(AUTH))
        frame(ws)
        ws.send(json.dumps(LISTEN))
        frame(ws)
        submit(client, market(1, OrderSide.BUY, "b"))
        assert frame(ws)["data"]["order"]["client_order_id"] == "b"
    assert [u.order.client_order_id for u in first.wait(2)] == ["a", "b"]


# ---------------------------------------------------------------- fault knobs


def test_duplicate_rate_sends_an_execution_twice(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    admin(server, "stream", {"duplicate_rate": 1.0})
    submit(client, market(100, OrderSide.BUY, "twice"))
    advance(server, "2025-09-02T15:00:00Z")
    got = stream.wait(6)
    assert [name(u) for u in got] == ["accepted"] * 2 + ["new"] * 2 + ["fill"] * 2
    assert got[4].execution_id is not None and got[4].execution_id == got[5].execution_id


def test_reorder_shuffles_the_events_of_one_batch(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    for cid in ("r1", "r2", "r3"):
        submit(client, market(10, OrderSide.BUY, cid))
    stream.wait(3)
    admin(server, "stream", {"reorder": True, "seed": 7})
    advance(server, "2025-09-02T15:00:00Z")  # one batch: new + fill for each order
    got = [(u.order.client_order_id, name(u)) for u in stream.wait(9)[3:]]
    in_order = [(c, e) for c in ("r1", "r2", "r3") for e in ("new", "fill")]
    assert sorted(got) == sorted(in_order) and got != in_order


def test_drop_reconnects_refusals_answer_429_and_missed_events_are_not_replayed(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    submit(client, market(1, OrderSide.BUY, "before"))
    stream.wait(1)
    admin(server, "stream", {"refuse_connects": True, "drop": True})
    wait_until(lambda: stream_stat(server, "refused") >= 1)  # the SDK came back: 429
    submit(client, market(1, OrderSide.BUY, "while-down"))
    admin(server, "stream", {"refuse_connects": False})
    wait_until(lambda: stream_stat(server, "listeners") == 1)  # reconnected by itself
    submit(client, market(1, OrderSide.BUY, "after"))
    got = stream.wait(2)
    assert [u.order.client_order_id for u in got] == ["before", "after"]
    assert stream_stat(server, "dropped") == 1 and stream_stat(server, "authorized") == 2


def test_silent_sends_nothing_but_keeps_the_socket(
    server: EmulatorServer, client: TradingClient, listen: Callable[..., Listener]
) -> None:
    stream = listen()
    admin(server, "stream", {"silent": True, "second_connection": "allow"})
    submit(client, market(1, OrderSide.BUY, "hushed"))
    assert stream_stat(server, "events_silenced") == 1
    with raw(server) as ws:  # a silent socket still answers pings
        assert ws.ping().wait(10)
    assert stream_stat(server, "connects") == 2 and stream_stat(server, "listeners") == 1
    admin(server, "stream", {"silent": 30})
    report = admin(server, "stream")
    assert report["silent"] and 0 < report["silent_s_left"] <= 30
    submit(client, market(1, OrderSide.BUY, "timed"))
    admin(server, "stream", {"silent": 0.2})  # ends by itself
    wait_until(lambda: not admin(server, "stream")["silent"])
    submit(client, market(1, OrderSide.BUY, "heard"))
    assert [u.order.client_order_id for u in stream.wait(1)] == ["heard"]
    assert stream_stat(server, "authorized") == 1  # never dropped, never reconnected


def test_stream_settings_are_checked_and_need_the_keys(server: EmulatorServer) -> None:
    url = f"{server.url}/_emulator/stream"
    assert requests.get(url, timeout=5).status_code == 401
    for bad in ({"duplicate_rate": 2}, {"silent": -1}, {"second_connection": "x"}, {"nope": 1}):
        resp = requests.post(url, json=bad, headers=ADMIN, timeout=5)
        assert resp.status_code == 422 and resp.json()["code"] == 40010001
    assert admin(server, "stream")["second_connection"] == "refuse"
    with pytest.raises(InvalidStatus) as refused:  # refuse_next: a count of attempts
        admin(server, "stream", {"refuse_next": 1})
        raw(server)
    assert refused.value.response.status_code == 429
    with raw(server) as ws:
        ws.send(json.dumps(AUTH))
        assert frame(ws)["data"]["status"] == "authorized"
