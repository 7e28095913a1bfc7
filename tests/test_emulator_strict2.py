"""Issue 11's order strictness, through the real alpaca-py SDK: late cancels by default,
partial fills, bracket groups, Alpaca's refusals and day orders placed in a session.

Each test fails against the emulator as it was before these became its defaults.
Prices are read off data/BABA_1d.csv by hand (rows quoted in the comments); the clock
starts after the 2026-01-13 close (21:00 UTC), zero slippage and commission. Partial
fills are forced with `partial_fill_rate` = 1 on orders of 2 shares, whose split is
then certain (floor(2 x U(0.2, 0.8)) is 0 or 1, and at least 1 share fills, never all):
1 share, then the other on the next bar the order can fill at. Wall-clock latencies
are polled for, never timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from bot.emulator import EmulatorServer, EmulatorState
from tests.test_emulator_strict import (
    DATA_DIR,
    KEY,
    SECRET,
    START,
    admin,
    advance,
    hold_position,
    market,
    oco,
    order,
    refusal,
    stop,
    trading,
    wait_for,
)


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    """Alpaca's defaults, but partial fills off (the partial-fill tests turn them on)."""
    state = EmulatorState(loaded.market, START, partial_fill_rate=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


def bracket(qty: float, take_profit: float, stop_loss: float, **kw: Any) -> Any:
    return market(
        qty,
        OrderSide.BUY,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop_loss),
        **kw,
    )


def day_market(qty: float) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="BABA", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
    )


def legs(got: Order) -> dict[str, Order]:
    assert got.legs is not None
    return {str(leg.type.value if leg.type else ""): leg for leg in got.legs}


def status_is(client: Any, order_id: Any, status: OrderStatus) -> Order | None:
    got = order(client, order_id, nested=True)
    return got if got.status == status else None


# ---------------------------------------------------------------- 1. strict by default


def test_a_cancel_is_pending_by_default_and_holds_the_shares(loaded: EmulatorState) -> None:
    state = EmulatorState(loaded.market, START)  # no knob set: Alpaca's behaviour
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        client = trading(srv)
        hold_position(srv, 100)
        guard = client.submit_order(stop(100, OrderSide.SELL, 150))
        client.cancel_order_by_id(guard.id)  # 204 on acceptance
        assert order(client, guard.id).status == OrderStatus.PENDING_CANCEL
        with pytest.raises(APIError) as exc:
            client.submit_order(market(100, OrderSide.SELL))
        assert refusal(exc)[2]["held_for_orders"] == "100"
        wait_for(lambda: status_is(client, guard.id, OrderStatus.CANCELED))
        assert client.get_open_position("BABA").qty_available == "100"


# ---------------------------------------------------------------- 2. partial fills


def test_a_market_order_fills_in_parts_on_later_bars(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "config", {"partial_fill_rate": 1.0})
    buy = client.submit_order(market(2, OrderSide.BUY, "two"))
    advance(server, "2026-01-14T15:00:00Z")
    # CSV 2026-01-14 open 171.57: 1 of the 2 shares.
    got = order(client, buy.id)
    assert got.status == OrderStatus.PARTIALLY_FILLED and got.filled_qty == "1"
    assert float(got.filled_avg_price or 0) == 171.57 and got.filled_at is None
    assert client.get_open_position("BABA").qty == "1"
    assert [o.id for o in client.get_orders()] == [buy.id]  # still open
    # The half still open keeps the buying power of 1 share at the 167.01 close.
    assert float(client.get_account().buying_power) == pytest.approx(100_000 - 171.57 - 167.01)
    advance(server, "2026-01-15T15:00:00Z")
    # CSV 2026-01-15 open 169.65: the other share; average (171.57 + 169.65) / 2.
    got = order(client, buy.id)
    assert got.status == OrderStatus.FILLED and got.filled_qty == "2"
    assert float(got.filled_avg_price or 0) == pytest.approx(170.61)
    assert got.filled_at == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    assert float(client.get_account().cash) == pytest.approx(100_000 - 171.57 - 169.65)
    fills = [(f["qty"], f["price"], f["order_status"]) for f in admin(server, "state")["fills"]]
    assert fills == [(1, 171.57, "partially_filled"), (1, 169.65, "filled")]


def test_a_day_order_partly_filled_expires_with_its_filled_qty(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "config", {"partial_fill_rate": 1.0})
    day = client.submit_order(day_market(2))
    advance(server, "2026-01-14T21:00:00Z")  # the 2026-01-14 close
    got = order(client, day.id)
    # Alpaca: a day order unfilled after the close ends `expired`; the share bought stays.
    assert got.status == OrderStatus.EXPIRED and got.filled_qty == "1"
    assert float(got.filled_avg_price or 0) == 171.57
    assert got.expired_at == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    assert client.get_open_position("BABA").qty == "1"
    assert float(client.get_account().buying_power) == pytest.approx(100_000 - 171.57)


def test_an_elected_stop_fills_its_rest_as_a_market_order(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 2)
    admin(server, "config", {"partial_fill_rate": 1.0})
    guard = client.submit_order(stop(2, OrderSide.SELL, 169))
    advance(server, "2026-01-16T21:00:00Z")
    # 2026-01-14 low 169.85 stays above 169; 2026-01-15 (open 169.65, low 167.34) trades
    # through it: 1 share at 169. The stop is elected, a market order now: the other
    # share fills at the 2026-01-16 open, 169.78 (not at 169, which that bar also reached).
    got = order(client, guard.id)
    assert got.status == OrderStatus.FILLED and got.filled_qty == "2"
    assert float(got.filled_avg_price or 0) == pytest.approx((169 + 169.78) / 2)
    assert client.get_all_positions() == []


def test_bracket_legs_wait_for_the_whole_entry_and_a_partial_exit_resizes_the_stop(
    server: EmulatorServer,
) -> None:
    client = trading(server)
    admin(server, "config", {"partial_fill_rate": 1.0, "held_stop_leg": True})
    parent = client.submit_order(bracket(2, take_profit=173, stop_loss=160))
    advance(server, "2026-01-14T21:00:00Z")
    # 1 share at the 2026-01-14 open (171.57); its high 172.8 is below 173 anyway, but the
    # legs are not active until the entry is complete: both still `held`, holding nothing.
    got = order(client, parent.id, nested=True)
    assert got.status == OrderStatus.PARTIALLY_FILLED
    assert {leg.status for leg in legs(got).values()} == {OrderStatus.HELD}
    assert client.get_open_position("BABA").qty_available == "1"
    advance(server, "2026-01-15T21:00:00Z")
    # 2026-01-15: the second share at the open (169.65): the entry is complete, the legs
    # go live for the rest of the bar. Its high 173.3 reaches the 173 take-profit: 1 of
    # its 2 shares; the stop (low 167.34 > 160) is resized to the 1 share left.
    got = order(client, parent.id, nested=True)
    assert got.status == OrderStatus.FILLED
    assert float(got.filled_avg_price or 0) == pytest.approx(170.61)
    tp, sl = legs(got)["limit"], legs(got)["stop"]
    assert tp.status == OrderStatus.PARTIALLY_FILLED and tp.filled_qty == "1"
    assert float(tp.filled_avg_price or 0) == 173
    assert sl.status == OrderStatus.HELD and sl.qty == "1" and sl.filled_qty == "0"
    assert client.get_open_position("BABA").qty == "1"
    advance(server, "2026-01-22T21:00:00Z")
    # Highs 169.85, 166.17, 169.87 stay under 173 and lows over 160; 2026-01-22 opens at
    # 176.43 above the limit: the last share there; the stop is canceled.
    got = order(client, parent.id, nested=True)
    tp, sl = legs(got)["limit"], legs(got)["stop"]
    assert tp.status == OrderStatus.FILLED and tp.filled_qty == "2"
    assert float(tp.filled_avg_price or 0) == pytest.approx((173 + 176.43) / 2)
    assert sl.status == OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_partial_fills_are_seeded_and_reproducible(server: EmulatorServer) -> None:
    client = trading(server)

    def replay(seed: int) -> list[tuple[float, float]]:
        admin(server, "reset", {"now": "2026-01-13T21:00:00Z"})
        admin(server, "config", {"partial_fill_rate": 0.5, "partial_fill_seed": seed})
        for _ in range(3):
            client.submit_order(market(100, OrderSide.BUY))
        advance(server, "2026-01-23T21:00:00Z")
        return [(f["qty"], f["price"]) for f in admin(server, "state")["fills"]]

    first = replay(7)
    assert replay(7) == first  # a reset restarts the draws: the same fills again
    assert sum(q for q, _ in first) == 300 and len(first) > 3  # some came in parts
    parts = [q for q, _ in first if q < 100]
    assert parts and all(q == int(q) and q >= 1 for q in parts)
    admin(server, "reset", {"now": "2026-01-13T21:00:00Z"})
    admin(server, "config", {"partial_fill_rate": 0.0})
    client.submit_order(market(100, OrderSide.BUY))
    advance(server, "2026-01-14T21:00:00Z")
    assert [f["qty"] for f in admin(server, "state")["fills"]] == [100]


# ---------------------------------------------------------------- 3. bracket groups


def test_cancelling_one_order_of_a_bracket_cancels_the_group(server: EmulatorServer) -> None:
    client = trading(server)
    waiting = client.submit_order(bracket(100, take_profit=190, stop_loss=160))
    # Before the entry fills: cancelling the stop leg takes the entry and the other leg.
    client.cancel_order_by_id(legs(order(client, waiting.id, nested=True))["stop"].id)
    got = wait_for(lambda: status_is(client, waiting.id, OrderStatus.CANCELED))
    assert {leg.status for leg in legs(got).values()} == {OrderStatus.CANCELED}
    working = client.submit_order(bracket(100, take_profit=190, stop_loss=160))
    advance(server, "2026-01-14T15:00:00Z")  # the entry fills at the 171.57 open
    client.cancel_order_by_id(legs(order(client, working.id, nested=True))["limit"].id)
    got = order(client, working.id, nested=True)
    assert {leg.status for leg in legs(got).values()} == {OrderStatus.PENDING_CANCEL}
    got = wait_for(lambda: (o := order(client, working.id, nested=True)) and all(
        leg.status == OrderStatus.CANCELED for leg in legs(o).values()) and o)  # fmt: skip
    assert got.status == OrderStatus.FILLED  # the entry stays filled
    assert client.get_open_position("BABA").qty_available == "100"


def test_the_stop_leg_shows_held_holds_the_shares_and_fills(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "config", {"held_stop_leg": True})  # the default, said explicitly
    parent = client.submit_order(bracket(100, take_profit=190, stop_loss=165))
    advance(server, "2026-01-14T15:00:00Z")
    got = legs(order(client, parent.id, nested=True))
    assert got["limit"].status == OrderStatus.NEW
    assert got["stop"].status == OrderStatus.HELD  # as Alpaca shows it
    assert client.get_open_position("BABA").qty_available == "0"
    with pytest.raises(APIError) as exc:
        client.submit_order(market(1, OrderSide.SELL))
    assert refusal(exc)[2]["held_for_orders"] == "100"  # the pair, counted once
    moved = client.replace_order_by_id(got["stop"].id, ReplaceOrderRequest(stop_price=166))
    assert isinstance(moved, Order) and moved.status == OrderStatus.HELD
    advance(server, "2026-01-16T21:00:00Z")
    # 2026-01-15 low 167.34 stays above 166; 2026-01-16 opens at 169.78 and trades down to
    # 163.5: the held stop triggers at 166 and fills; the take-profit is canceled.
    got = legs(order(client, parent.id, nested=True))
    assert got["stop"].status == OrderStatus.FILLED
    assert float(got["stop"].filled_avg_price or 0) == 166.0
    assert got["limit"].status == OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_bracket_groups_off_is_the_former_behaviour(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "config", {"bracket_groups": False, "cancel_latency_s": 0})
    admin(server, "config", {"held_stop_leg": False})
    parent = client.submit_order(bracket(100, take_profit=190, stop_loss=160))
    advance(server, "2026-01-14T15:00:00Z")
    got = legs(order(client, parent.id, nested=True))
    assert {leg.status for leg in got.values()} == {OrderStatus.NEW}
    client.cancel_order_by_id(got["limit"].id)
    assert order(client, got["stop"].id).status == OrderStatus.NEW


# ---------------------------------------------------------------- 4. refusals


def test_sub_penny_prices_are_refused(server: EmulatorServer) -> None:
    client = trading(server)
    hold_position(server, 100)

    def limit(price: float, side: OrderSide = OrderSide.BUY) -> LimitOrderRequest:
        return LimitOrderRequest(
            symbol="BABA", qty=1, side=side, time_in_force=TimeInForce.GTC, limit_price=price
        )

    refused = {
        "limit_price 150.123": limit(150.123),
        "stop_price 150.555": stop(1, OrderSide.SELL, 150.555),
        "take_profit.limit_price 180.005": bracket(1, 180.005, 160),
        "stop_loss.stop_price 160.001": bracket(1, 180, 160.001),
        "limit_price 0.12345": limit(0.12345),  # under $1.00: 4 decimals at most
    }
    for what, req in refused.items():
        with pytest.raises(APIError) as exc:
            client.submit_order(req)
        assert refusal(exc)[:2] == (422, 42210000), what
        assert exc.value.message == (
            f"invalid {what}. sub-penny increment does not fulfill minimum pricing criteria"
        )
    assert client.submit_order(limit(0.1234)).limit_price == "0.1234"
    guard = client.submit_order(stop(1, OrderSide.SELL, 150.55))
    with pytest.raises(APIError) as exc:
        client.replace_order_by_id(guard.id, ReplaceOrderRequest(stop_price=150.505))
    assert refusal(exc)[:2] == (422, 42210000)
    admin(server, "config", {"order_refusals": False})
    assert client.submit_order(limit(150.123)).limit_price == "150.123"


def test_advanced_orders_refused_as_alpaca_refuses_them(server: EmulatorServer) -> None:
    client = trading(server)
    with pytest.raises(APIError) as exc:  # extended hours: simple orders only
        client.submit_order(
            LimitOrderRequest(
                symbol="BABA",
                qty=10,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=168,
                extended_hours=True,
                order_class=OrderClass.BRACKET,
                take_profit=TakeProfitRequest(limit_price=180),
                stop_loss=StopLossRequest(stop_price=160),
            )
        )
    assert refusal(exc)[:2] == (422, 42210000)
    assert exc.value.message == "extended hours are not supported for bracket orders"
    hold_position(server, 100)
    exits = {
        "bracket": market(
            100,
            OrderSide.SELL,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=150),
            stop_loss=StopLossRequest(stop_price=175),
        ),
        "oto": market(
            100,
            OrderSide.SELL,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=175),
        ),
    }
    for oclass, req in exits.items():  # a bracket/OTO opens a position, never closes one
        with pytest.raises(APIError) as exc:
            client.submit_order(req)
        assert refusal(exc)[:2] == (422, 42210000)
        assert exc.value.message == f"{oclass} orders must be entry orders"
    assert client.get_orders() == []


def test_stop_legs_are_checked_against_the_current_price(server: EmulatorServer) -> None:
    client = trading(server)

    def limit_bracket(limit: float, stop_loss: float) -> LimitOrderRequest:
        return LimitOrderRequest(
            symbol="BABA",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=limit,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=190),
            stop_loss=StopLossRequest(stop_price=stop_loss),
        )

    # The current price is the 2026-01-13 close, 167.01; a buy limit at 170 is above it.
    # The stop must be <= 170 - 0.01 AND <= 167.01 - 0.01 = 167.00.
    for req in (limit_bracket(170, 167.01), bracket(10, 190, 167.01)):
        with pytest.raises(APIError) as exc:
            client.submit_order(req)
        assert refusal(exc)[:2] == (422, 42210000)
        assert exc.value.message == "stop_loss.stop_price must be <= base_price - 0.01"
        assert refusal(exc)[2]["base_price"] == "167.01"
    assert client.submit_order(limit_bracket(170, 167)).status == OrderStatus.ACCEPTED
    hold_position(server, 100)
    with pytest.raises(APIError) as exc:  # a sell oco's stop above the current price
        client.submit_order(oco(OrderSide.SELL, take_profit=180, stop_loss=167.01))
    assert refusal(exc)[:2] == (422, 42210000)
    assert client.submit_order(oco(OrderSide.SELL, 180, 167, qty=90)).status == "accepted"


# ---------------------------------------------------------------- 7. intraday day orders


def test_day_orders_placed_in_a_session_with_daily_bars(server: EmulatorServer) -> None:
    client = trading(server)
    admin(server, "reset", {"now": "2026-01-14T17:00:00Z"})  # 12:00 ET, bar matched at 09:30
    cheap = client.submit_order(
        LimitOrderRequest(
            symbol="BABA",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=150,
        )
    )
    # It ends with today's session: Alpaca never carries a day order to the next one.
    assert cheap.status == OrderStatus.NEW
    assert cheap.expires_at == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    now = client.submit_order(day_market(10))
    # A market order would fill at once at Alpaca; with no later price today the emulator
    # fills it at the next open rather than let it expire unfilled.
    assert now.expires_at == datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    advance(server, "2026-01-14T21:00:00Z")
    assert order(client, cheap.id).status == OrderStatus.EXPIRED
    advance(server, "2026-01-15T15:00:00Z")
    filled = order(client, now.id)
    # CSV 2026-01-15 open 169.65.
    assert filled.status == OrderStatus.FILLED and float(filled.filled_avg_price or 0) == 169.65


def test_day_orders_placed_in_a_session_with_minute_bars(loaded: EmulatorState) -> None:
    start = datetime(2026, 1, 29, 14, 40, tzinfo=UTC)  # 09:40 ET
    state = EmulatorState(loaded.market, start, match_timeframe="1m", partial_fill_rate=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        client = trading(srv)
        buy = client.submit_order(day_market(10))
        cheap = client.submit_order(
            LimitOrderRequest(
                symbol="BABA",
                qty=10,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=170,
            )
        )
        for placed in (buy, cheap):
            assert placed.expires_at == datetime(2026, 1, 29, 21, 0, tzinfo=UTC)
        advance(srv, "2026-01-29T14:42:00Z")
        # The next minute bar, 09:41 ET (CSV 179.86 open): the market order fills there.
        got = order(client, buy.id)
        assert got.status == OrderStatus.FILLED and float(got.filled_avg_price or 0) == 179.86
        assert got.filled_at == datetime(2026, 1, 29, 14, 41, tzinfo=UTC)
        advance(srv, "2026-01-29T21:00:00Z")  # minute lows stay above 170 (171.6 the day's)
        assert order(client, cheap.id).status == OrderStatus.EXPIRED
        assert order(client, cheap.id).type == OrderType.LIMIT
        # 2026-01-28 has no minute bars (the next are 2026-01-29's): a day order placed
        # at 12:00 ET still ends with the 2026-01-28 session, not with the next bar's.
        admin(srv, "reset", {"now": "2026-01-28T17:00:00Z"})
        placed = client.submit_order(
            LimitOrderRequest(
                symbol="BABA",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=170,
            )
        )
        assert placed.expires_at == datetime(2026, 1, 28, 21, 0, tzinfo=UTC)
        advance(srv, "2026-01-29T21:00:00Z")  # 01-29 lows reach 171.6 only: never filled
        assert order(client, placed.id).status == OrderStatus.EXPIRED
        assert order(client, placed.id).expired_at == datetime(2026, 1, 28, 21, 0, tzinfo=UTC)
