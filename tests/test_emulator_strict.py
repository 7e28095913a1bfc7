"""The emulator's strict modes (Alpaca's harder edges), through the real alpaca-py SDK.

Every strictness is on by default (the emulator is never kinder than Alpaca); tests
switch knobs through `POST /_emulator/config`, `POST /_emulator/faults` or the
`EmulatorState` constructor. Partial fills are off in these fixtures (exact CSV fills
and whole quantities are asserted; they have their own tests in
tests/test_emulator_strict2.py with the rest of issue 11's items). Prices are read off
data/BABA_1d.csv by hand (rows quoted in the comments); the clock starts after the
2026-01-13 close (21:00 UTC), with zero slippage and commission. Wall-clock latencies
are short and polled for, never timed; where a test must act while an order is still
pending, the state's monotonic clock is a hand-moved fake.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from bot.emulator import EmulatorServer, EmulatorState

DATA_DIR = Path(__file__).parents[1] / "data"
START = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)  # after the 2026-01-13 close
KEY, SECRET = "strict-key", "strict-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them
T = TypeVar("T")


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    state = EmulatorState(loaded.market, START, initial_cash=100_000.0, partial_fill_rate=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def faked(loaded: EmulatorState, clock: FakeClock) -> Iterator[EmulatorServer]:
    """A server whose latencies run on the hand-moved clock."""
    state = EmulatorState(loaded.market, START, monotonic=clock, partial_fill_rate=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


def trading(server: EmulatorServer) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=server.url)


def admin(server: EmulatorServer, route: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{server.url}/_emulator/{route}"
    resp = (
        requests.post(url, json=body, timeout=5, headers=ADMIN)
        if body is not None
        else requests.get(url, timeout=5, headers=ADMIN)
    )
    resp.raise_for_status()
    return resp.json()


def advance(server: EmulatorServer, until: str) -> Any:
    return admin(server, "advance", {"until": until})


def hold_position(server: EmulatorServer, qty: float, price: float = 150.0) -> None:
    admin(server, "position", {"symbol": "BABA", "qty": qty, "avg_entry_price": price})


def market(qty: float, side: OrderSide, cid: str | None = None, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="BABA", qty=qty, side=side, time_in_force=TimeInForce.GTC, client_order_id=cid, **kw
    )


def stop(qty: float, side: OrderSide, price: float, cid: str | None = None) -> StopOrderRequest:
    return StopOrderRequest(
        symbol="BABA",
        qty=qty,
        side=side,
        time_in_force=TimeInForce.GTC,
        stop_price=price,
        client_order_id=cid,
    )


def oco(
    side: OrderSide, take_profit: float, stop_loss: float, qty: float = 100, **kw: Any
) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="BABA",
        qty=qty,
        side=side,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop_loss),
        **kw,
    )


def order(client: TradingClient, order_id: Any, nested: bool = False) -> Order:
    got = client.get_order_by_id(order_id, GetOrderByIdRequest(nested=nested))
    assert isinstance(got, Order)
    return got


def refusal(excinfo: pytest.ExceptionInfo[APIError]) -> tuple[int | None, int, dict[str, Any]]:
    err = excinfo.value
    return err.status_code, err.code, json.loads(str(err))


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll until `probe` gives a truthy value (latencies are wall-clock)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "the emulator never got there"
        time.sleep(0.05)


# ---------------------------------------------------------------- the knobs


def test_knob_defaults_and_validation(loaded: EmulatorState) -> None:
    state = EmulatorState(loaded.market, START)  # every default
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as server:
        current = admin(server, "config", {})
        assert current == {
            "bars_page_size": 10_000,
            "slippage_bps": 0.0,
            "commission_per_share": 0.0,
            "commission_min": 0.0,
            "shorting": False,
            "cancel_latency_s": 0.3,
            "replace_latency_s": 0.3,
            "strict_replace_status": True,
            "replace_oto_legs": False,
            "data_plan": "free",
            "partial_fill_rate": 0.1,
            "partial_fill_seed": 0,
            "bracket_groups": True,
            "held_stop_leg": True,
            "order_refusals": True,
            "todays_bar": True,
            "late_print_s": 600.0,
            "rate_limit_per_min": 200,
            "forbidden_style": False,
            "intraday_day_orders": True,
        }
        assert admin(server, "faults")["reject_next"] == 0
        changed = admin(
            server,
            "config",
            {"cancel_latency_s": 0.5, "strict_replace_status": False, "data_plan": "unlimited"},
        )
        assert changed["cancel_latency_s"] == 0.5 and changed["strict_replace_status"] is False
        assert changed["data_plan"] == "unlimited" and changed["replace_latency_s"] == 0.3
        assert (state.cancel_latency_s, state.strict_replace_status, state.data_plan) == (
            0.5,
            False,
            "unlimited",
        )
        for bad in (
            {"data_plan": "gold"},
            {"cancel_latency_s": -1},
            {"replace_latency_s": True},
            {"replace_oto_legs": "no"},
            {"cancel_latency": 1},
            {"partial_fill_rate": 1.5},
            {"partial_fill_seed": 0.5},
            {"rate_limit_per_min": -1},
            {"late_print_s": "600"},
            {"forbidden_style": 1},
            {"data_plan": "free", "bracket_groups": "yes"},  # all or nothing
        ):
            resp = requests.post(
                f"{server.url}/_emulator/config", json=bad, timeout=5, headers=ADMIN
            )
            assert resp.status_code == 422 and resp.json()["code"] == 40010001, bad
        assert state.data_plan == "unlimited"  # the refused request changed nothing
        resp = requests.post(
            f"{server.url}/_emulator/faults", json={"reject_next": -1}, timeout=5, headers=ADMIN
        )
        assert resp.status_code == 422
    with pytest.raises(ValueError):
        EmulatorState(state.market, START, data_plan="gold")
    with pytest.raises(ValueError):
        EmulatorState(state.market, START, partial_fill_rate=-0.1)


# ---------------------------------------------------------------- asynchronous cancel


def test_pending_cancel_holds_the_shares_until_the_latency_passes(
    server: EmulatorServer,
) -> None:
    client = trading(server)
    hold_position(server, 100)
    admin(server, "config", {"cancel_latency_s": 0.3})
    target = client.submit_order(
        LimitOrderRequest(
            symbol="BABA",
            qty=100,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=200,
            client_order_id="tp",
        )
    )
    assert target.status == OrderStatus.ACCEPTED  # after the close
    client.cancel_order_by_id(target.id)  # 204 at once
    assert order(client, target.id).status == OrderStatus.PENDING_CANCEL
    open_now = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [(o.id, o.status) for o in open_now] == [(target.id, OrderStatus.PENDING_CANCEL)]
    assert client.get_open_position("BABA").qty_available == "0"

    with pytest.raises(APIError) as exc:
        client.submit_order(market(100, OrderSide.SELL, "exit"))
    status, code, body = refusal(exc)
    assert (status, code) == (403, 40310000)
    assert body["message"] == "insufficient qty available for order (requested: 100, available: 0)"
    assert body["held_for_orders"] == "100" and body["available"] == "0"
    assert body["existing_qty"] == "100" and body["symbol"] == "BABA"
    assert body["related_orders"] == [str(target.id)]
    with pytest.raises(APIError) as exc:  # a second DELETE: not cancelable any more
        client.cancel_order_by_id(target.id)
    assert refusal(exc)[:2] == (422, 42210000)
    assert 'pending_cancel" state' in exc.value.message

    done = wait_for(lambda: (o := order(client, target.id)).status == OrderStatus.CANCELED and o)
    assert done.canceled_at == START  # order times are the replay clock's
    assert client.get_orders() == []
    assert client.get_open_position("BABA").qty_available == "100"
    assert client.submit_order(market(100, OrderSide.SELL, "exit")).status == OrderStatus.ACCEPTED


def test_pending_cancel_takes_the_bracket_legs_and_never_fills(
    faked: EmulatorServer, clock: FakeClock
) -> None:
    client = trading(faked)
    admin(faked, "config", {"cancel_latency_s": 5})

    def bracket(cid: str) -> Order:
        placed = client.submit_order(
            market(
                100,
                OrderSide.BUY,
                cid,
                order_class=OrderClass.BRACKET,
                take_profit=TakeProfitRequest(limit_price=180),
                stop_loss=StopLossRequest(stop_price=160),
            )
        )
        assert isinstance(placed, Order)
        return placed

    parent = bracket("br")
    client.cancel_order_by_id(parent.id)
    got = order(client, parent.id, nested=True)
    assert got.legs is not None and len(got.legs) == 2
    assert {o.status for o in (got, *got.legs)} == {OrderStatus.PENDING_CANCEL}
    assert client.cancel_orders() == []  # nothing left that is not already being canceled
    # While pending, the entry keeps the buying power it holds (100 x 167.01, the last
    # close).
    assert float(client.get_account().buying_power) == pytest.approx(100_000 - 16_701)
    advance(faked, "2026-01-13T21:00:04Z")  # 4 s of replay time: not yet
    assert order(client, parent.id).status == OrderStatus.PENDING_CANCEL
    clock.t += 5  # 5 s of wall-clock time: done, stamped with the replay clock
    got = order(client, parent.id, nested=True)
    assert got.legs is not None
    assert {o.status for o in (got, *got.legs)} == {OrderStatus.CANCELED}
    assert got.canceled_at == datetime(2026, 1, 13, 21, 0, 4, tzinfo=UTC)
    assert got.filled_qty == "0" and client.get_account().buying_power == "100000"
    # The replay clock ends it too: a replay jumps to the next open far faster than 5 s
    # of wall time, and no cancel at Alpaca stays pending for a night. It is done 5 s
    # after it was asked for, so the entry never meets the 2026-01-14 open (171.57).
    again = bracket("br-2")
    client.cancel_order_by_id(again.id)
    advance(faked, "2026-01-14T15:00:00Z")
    got = order(client, again.id, nested=True)
    assert got.legs is not None
    assert {o.status for o in (got, *got.legs)} == {OrderStatus.CANCELED}
    assert got.canceled_at == datetime(2026, 1, 13, 21, 0, 9, tzinfo=UTC)
    assert client.get_all_positions() == []


# ---------------------------------------------------------------- asynchronous replace


def test_pending_replace_then_replaced(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 100)
    old = client.submit_order(stop(100, OrderSide.SELL, 150, "guard"))
    advance(server, "2026-01-14T15:00:00Z")  # routed; low 169.85 stays above 150
    assert order(client, old.id).status == OrderStatus.NEW
    admin(server, "config", {"replace_latency_s": 0.3})
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(stop_price=160))
    assert isinstance(new, Order) and new.replaces == old.id and new.stop_price == "160"
    assert new.status == OrderStatus.NEW  # its normal status at once
    assert order(client, old.id).status == OrderStatus.PENDING_REPLACE
    assert client.get_order_by_client_id("guard").id == new.id
    # The two hold the 100 shares once, not twice.
    assert client.get_open_position("BABA").qty_available == "0"
    with pytest.raises(APIError) as exc:
        client.submit_order(market(1, OrderSide.SELL))
    assert refusal(exc)[2]["held_for_orders"] == "100"
    with pytest.raises(APIError) as exc:
        client.replace_order_by_id(old.id, ReplaceOrderRequest(stop_price=155))
    assert refusal(exc)[:2] == (422, 42210000)
    assert exc.value.message == "order is not replaceable in status pending_replace"
    with pytest.raises(APIError) as exc:
        client.cancel_order_by_id(old.id)
    assert refusal(exc)[:2] == (422, 42210000)

    done = wait_for(lambda: (o := order(client, old.id)).status == OrderStatus.REPLACED and o)
    assert done.replaced_by == new.id
    assert [o.id for o in client.get_orders()] == [new.id]


def test_replace_of_an_accepted_order_is_refused_unless_lenient(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 200)
    waiting = client.submit_order(stop(100, OrderSide.SELL, 150))
    assert waiting.status == OrderStatus.ACCEPTED  # after the close: not routed yet
    with pytest.raises(APIError) as exc:  # strict_replace_status is on by default
        client.replace_order_by_id(waiting.id, ReplaceOrderRequest(stop_price=151))
    assert refusal(exc)[:2] == (422, 42210000)
    assert exc.value.message == "order is not replaceable in status accepted"
    assert order(client, waiting.id).status == OrderStatus.ACCEPTED  # untouched
    admin(server, "config", {"strict_replace_status": False})
    moved = client.replace_order_by_id(waiting.id, ReplaceOrderRequest(stop_price=151))
    assert isinstance(moved, Order) and moved.stop_price == "151"
    assert moved.status == OrderStatus.ACCEPTED
    admin(server, "config", {"strict_replace_status": True})
    advance(server, "2026-01-14T15:00:00Z")  # routed at the 09:30 open: new
    again = client.replace_order_by_id(moved.id, ReplaceOrderRequest(stop_price=152))
    assert isinstance(again, Order) and again.status == OrderStatus.NEW


def test_oto_legs_are_not_replaceable_when_the_knob_says_so(server: EmulatorServer) -> None:
    client = trading(server)
    oto = client.submit_order(
        market(
            100,
            OrderSide.BUY,
            "oto",
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=160),
        )
    )
    bracket = client.submit_order(
        market(
            50,
            OrderSide.BUY,
            "br",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=190),
            stop_loss=StopLossRequest(stop_price=160),
        )
    )
    advance(server, "2026-01-14T15:00:00Z")  # both entries fill at the 171.57 open
    oto_leg = order(client, oto.id, nested=True).legs
    br_legs = order(client, bracket.id, nested=True).legs
    assert oto_leg is not None and br_legs is not None
    br_stop = next(leg for leg in br_legs if leg.type == OrderType.STOP)
    admin(server, "config", {"replace_oto_legs": False})
    with pytest.raises(APIError) as exc:
        client.replace_order_by_id(oto_leg[0].id, ReplaceOrderRequest(stop_price=165))
    assert refusal(exc)[:2] == (422, 42210000)
    assert exc.value.message == "replacing a leg of an oto order is not supported"
    moved = client.replace_order_by_id(br_stop.id, ReplaceOrderRequest(stop_price=165))
    assert isinstance(moved, Order) and moved.stop_price == "165"  # bracket legs: fine
    admin(server, "config", {"replace_oto_legs": True})
    moved = client.replace_order_by_id(oto_leg[0].id, ReplaceOrderRequest(stop_price=165))
    assert isinstance(moved, Order) and moved.stop_price == "165"


# ---------------------------------------------------------------- rejection after acceptance


def test_reject_next_rejects_accepted_orders_when_they_are_routed(
    server: EmulatorServer,
) -> None:
    client = trading(server)
    admin(server, "faults", {"reject_next": 1})
    with pytest.raises(APIError):  # refused at once: does not use the fault up
        client.submit_order(market(10_000, OrderSide.BUY, "too-big"))
    doomed = client.submit_order(
        market(
            100,
            OrderSide.BUY,
            "doomed",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=180),
            stop_loss=StopLossRequest(stop_price=160),
        )
    )
    assert doomed.status == OrderStatus.ACCEPTED and doomed.failed_at is None
    fine = client.submit_order(market(10, OrderSide.BUY, "fine"))
    assert admin(server, "faults")["reject_next"] == 0
    assert fine.status == OrderStatus.ACCEPTED
    advance(server, "2026-01-14T15:00:00Z")  # both reach the 09:30 open
    got = order(client, doomed.id, nested=True)
    assert got.status == OrderStatus.REJECTED and got.filled_qty == "0"
    assert got.failed_at == datetime(2026, 1, 14, 14, 30, tzinfo=UTC)
    assert got.legs is not None
    assert {leg.status for leg in got.legs} == {OrderStatus.CANCELED}
    # CSV 2026-01-14 open 171.57: only the second order filled.
    assert client.get_open_position("BABA").qty == "10"
    assert float(client.get_account().cash) == pytest.approx(100_000 - 1_715.7)
    assert float(order(client, fine.id).filled_avg_price or 0) == 171.57


# ---------------------------------------------------------------- OCO


def test_oco_take_profit_fills_and_cancels_the_stop(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 100)
    parent = client.submit_order(oco(OrderSide.SELL, take_profit=180, stop_loss=160))
    assert isinstance(parent, Order)
    assert parent.order_class == OrderClass.OCO and parent.type == OrderType.LIMIT
    assert parent.limit_price == "180" and parent.side == OrderSide.SELL
    assert parent.status == OrderStatus.ACCEPTED and parent.legs is not None
    (leg,) = parent.legs
    assert (leg.type, leg.stop_price, leg.side) == (OrderType.STOP, "160", OrderSide.SELL)
    assert leg.status == OrderStatus.ACCEPTED  # working like its parent, not held
    # The pair holds the 100 shares once.
    assert client.get_open_position("BABA").qty_available == "0"
    with pytest.raises(APIError) as exc:
        client.submit_order(market(1, OrderSide.SELL))
    body = refusal(exc)[2]
    assert body["held_for_orders"] == "100" and body["available"] == "0"
    advance(server, "2026-01-14T15:00:00Z")
    got = order(client, parent.id, nested=True)
    assert got.legs is not None
    assert {o.status for o in (got, *got.legs)} == {OrderStatus.NEW}
    advance(server, "2026-02-06T21:00:00Z")
    # Lows 169.85 (01-14), 167.34, 163.5, 161.68 (01-20), 165.66 never reach 160; on
    # 2026-01-22 the open 176.43 is below 180 and the high 181.1 reaches it: filled at 180.
    got = order(client, parent.id, nested=True)
    assert got.status == OrderStatus.FILLED and float(got.filled_avg_price or 0) == 180.0
    assert got.filled_at is not None and got.filled_at.date() == date(2026, 1, 22)
    assert got.legs is not None and got.legs[0].status == OrderStatus.CANCELED
    assert client.get_all_positions() == []
    assert float(client.get_account().cash) == pytest.approx(100_000 + 18_000)


def test_oco_stop_gapped_through_fills_at_the_open(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 100)
    parent = client.submit_order(oco(OrderSide.SELL, take_profit=185, stop_loss=162))
    advance(server, "2026-02-06T21:00:00Z")
    # Lows 169.85, 167.34, 163.5 stay above 162; 2026-01-20 opens at 161.83, below it.
    got = order(client, parent.id, nested=True)
    assert got.legs is not None
    assert got.status == OrderStatus.CANCELED
    assert got.legs[0].status == OrderStatus.FILLED
    assert float(got.legs[0].filled_avg_price or 0) == 161.83
    assert client.get_all_positions() == []


def test_buy_oco_covers_a_short(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, -100, 170.0)
    parent = client.submit_order(oco(OrderSide.BUY, take_profit=160, stop_loss=175))
    assert parent.legs is not None and parent.legs[0].side == OrderSide.BUY
    advance(server, "2026-02-06T21:00:00Z")
    # Highs 172.8, 173.3, 169.85, 166.17, 169.87 stay under 175 and lows over 160, then
    # 2026-01-22 opens at 176.43, above the stop: filled at that open.
    got = order(client, parent.id, nested=True)
    assert got.legs is not None and got.status == OrderStatus.CANCELED
    assert float(got.legs[0].filled_avg_price or 0) == 176.43
    assert client.get_all_positions() == []


def test_oco_cancel_and_validation(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 100)
    parent = client.submit_order(oco(OrderSide.SELL, take_profit=180, stop_loss=160))
    client.cancel_order_by_id(parent.id)
    # The cancel is asynchronous (0.3 s of wall-clock time by default): poll for it.
    got = wait_for(
        lambda: (o := order(client, parent.id, nested=True)).status == OrderStatus.CANCELED and o
    )
    assert got.legs is not None
    assert {o.status for o in (got, *got.legs)} == {OrderStatus.CANCELED}
    assert client.get_open_position("BABA").qty_available == "100"
    refused = [
        oco(OrderSide.SELL, take_profit=160, stop_loss=180),  # stop above the limit
        oco(OrderSide.BUY, take_profit=180, stop_loss=160),  # stop below, for a buy
        oco(OrderSide.SELL, take_profit=180, stop_loss=160, limit_price=181),
        market(
            100,
            OrderSide.SELL,
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=180),
            stop_loss=StopLossRequest(stop_price=160),
        ),
        oco(OrderSide.SELL, take_profit=180, stop_loss=160, qty=101),  # more than held
    ]
    codes = []
    for req in refused:
        with pytest.raises(APIError) as exc:
            client.submit_order(req)
        codes.append(refusal(exc)[:2])
    assert codes == [(422, 40010001)] * 4 + [(403, 40310000)]
    with_limit = oco(OrderSide.SELL, take_profit=180, stop_loss=160, limit_price=180)
    assert client.submit_order(with_limit).limit_price == "180"
    resp = requests.post(  # a stop-limit leg: unsupported, and said so
        f"{server.url}/v2/orders",
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        json={
            "symbol": "BABA",
            "qty": "1",
            "side": "sell",
            "type": "limit",
            "time_in_force": "gtc",
            "order_class": "oco",
            "take_profit": {"limit_price": "180"},
            "stop_loss": {"stop_price": "160", "limit_price": "159.5"},
        },
        timeout=5,
    )
    assert resp.status_code == 422 and "not supported" in resp.json()["message"]


def test_bracket_legs_hold_the_position_once(server: EmulatorServer) -> None:
    client = trading(server)
    client.submit_order(
        market(
            100,
            OrderSide.BUY,
            "br",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=190),
            stop_loss=StopLossRequest(stop_price=160),
        )
    )
    advance(server, "2026-01-14T15:00:00Z")
    pos = client.get_open_position("BABA")
    assert pos.qty == "100" and pos.qty_available == "0"
    with pytest.raises(APIError) as exc:
        client.submit_order(market(1, OrderSide.SELL))
    assert refusal(exc)[2]["held_for_orders"] == "100"


# ---------------------------------------------------------------- market data


def bar_dates(server: EmulatorServer, **kw: Any) -> list[str]:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    got = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="BABA",
            timeframe=TimeFrame.Day,
            start=datetime(2026, 1, 8, tzinfo=UTC),
            **kw,
        )
    )
    return [b.timestamp.astimezone(UTC).date().isoformat() for b in got.data.get("BABA", [])]


def raw_bars(server: EmulatorServer, **params: str) -> requests.Response:
    return requests.get(
        f"{server.url}/v2/stocks/bars",
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        params={"symbols": "BABA", "timeframe": "1Day", **params},
        timeout=5,
    )


# The daily bars from 2026-01-08 to the 2026-01-13 session, the last that has closed.
THROUGH_13 = ["2026-01-08", "2026-01-09", "2026-01-12", "2026-01-13"]


def test_feed_and_adjustment_are_checked(server: EmulatorServer) -> None:
    # The paid plan: the default free plan would refuse SIP up to the clock (tested below).
    admin(server, "config", {"data_plan": "unlimited"})
    for feed in (DataFeed.IEX, DataFeed.SIP):
        assert bar_dates(server, feed=feed) == THROUGH_13
    for adjustment in Adjustment:
        assert bar_dates(server, adjustment=adjustment) == THROUGH_13
    for feed in (DataFeed.OTC, DataFeed.BOATS, DataFeed.OVERNIGHT):
        with pytest.raises(APIError) as exc:
            bar_dates(server, feed=feed)
        assert refusal(exc)[:2] == (422, 40010001) and "not supported" in exc.value.message
    for params in ({"feed": "nasdaq"}, {"adjustment": "splits"}, {"feed": ""}):
        resp = raw_bars(server, **params)
        assert resp.status_code == 422 and resp.json()["code"] == 40010001, params


def test_free_plan_refuses_recent_sip_and_delays_delayed_sip(server: EmulatorServer) -> None:
    admin(server, "config", {"data_plan": "unlimited"})
    assert bar_dates(server) == THROUGH_13  # a paid plan: SIP up to the clock
    admin(server, "config", {"data_plan": "free"})  # the default
    for kw in ({}, {"feed": DataFeed.SIP}, {"end": datetime(2026, 3, 1, tzinfo=UTC)}):
        with pytest.raises(APIError) as exc:
            bar_dates(server, **kw)
        assert refusal(exc)[:2] == (403, 40310000), kw
        assert exc.value.message == "subscription does not permit querying recent SIP data"
    # An end 16 minutes before the clock (20:44 UTC) is old enough: the 2026-01-13 bar,
    # stamped at its midnight ET, is in range and shown (as it stood at 20:45 UTC).
    old_enough = datetime(2026, 1, 13, 20, 44, tzinfo=UTC)
    assert bar_dates(server, feed=DataFeed.SIP, end=old_enough) == THROUGH_13
    with pytest.raises(APIError):  # 14 minutes: too recent
        bar_dates(server, feed=DataFeed.SIP, end=datetime(2026, 1, 13, 20, 46, tzinfo=UTC))
    assert bar_dates(server, feed=DataFeed.IEX) == THROUGH_13
    # delayed_sip: the 2026-01-13 session (14:30-21:00 UTC; CSV 165.5, 170.68, 164.91,
    # 167.01, 18850362) as it stood 15 minutes ago, at 20:45 UTC: 375 of its 390 minutes,
    # f = 375/390, high 165.5 + f x 5.18 = 170.4808, low 165.5 - f x 0.59 = 164.9327,
    # close 165.5 + f x 1.51 = 166.9519, volume floor(f x 18850362) = 18125348.
    assert last_bar(server, feed=DataFeed.DELAYED_SIP) == (
        "2026-01-13",
        165.5,
        170.4808,
        164.9327,
        166.9519,
        18125348,
    )
    advance(server, "2026-01-13T21:15:00Z")  # ended 15 minutes ago, and revised since
    assert last_bar(server, feed=DataFeed.DELAYED_SIP) == (
        "2026-01-13",
        165.5,
        170.68,
        164.91,
        167.01,
        18850362,
    )


def last_bar(server: EmulatorServer, **kw: Any) -> tuple[Any, ...]:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    got = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="BABA",
            timeframe=TimeFrame.Day,
            start=datetime(2026, 1, 8, tzinfo=UTC),
            **kw,
        )
    )
    b = got.data["BABA"][-1]
    return (
        b.timestamp.astimezone(UTC).date().isoformat(),
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
    )


def test_unknown_order_id_still_404_with_strict_knobs(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "config", {"cancel_latency_s": 0.3, "strict_replace_status": True})
    with pytest.raises(APIError) as exc:
        client.cancel_order_by_id(uuid.uuid4())
    assert refusal(exc)[:2] == (404, 40410000)
