"""The Alpaca emulator through the real alpaca-py SDK, over HTTP on 127.0.0.1.

Every expected price below is read off data/BABA_1d.csv by hand (the rows are quoted
in the comments); nothing is copied from the emulator's own output. The clock starts
after the close of 2026-01-13 (21:00 UTC = 16:00 ET), with zero slippage and
commission so that fills equal CSV prices exactly.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from bot.emulator import EmulatorServer, EmulatorState

DATA_DIR = Path(__file__).parents[1] / "data"
START = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)  # after the 2026-01-13 close
KEY, SECRET = "test-key", "test-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    """The CSV files and the calendar, read once; each test gets a fresh account."""
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    # Three of the emulator's strict defaults are turned off here, because these tests
    # check where orders end up with exact CSV prices and whole quantities: partial fills
    # (seeded, 10% of fills by default) and the wall-clock latency of cancels and
    # replaces (0.3 s) are tested in tests/test_emulator_strict.py and
    # tests/test_emulator_strict2.py. The rest (free data plan, bracket groups, refusals,
    # today's bar, rate limits) stays as Alpaca has it.
    state = EmulatorState(
        loaded.market,
        START,
        initial_cash=100_000.0,
        slippage_bps=0.0,
        partial_fill_rate=0.0,
        cancel_latency_s=0.0,
        replace_latency_s=0.0,
    )
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> TradingClient:
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


def market(qty: float, side: OrderSide, cid: str | None = None, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="BABA", qty=qty, side=side, time_in_force=TimeInForce.GTC, client_order_id=cid, **kw
    )


def bracket(cid: str, take_profit: float, stop_loss: float) -> MarketOrderRequest:
    return market(
        100,
        OrderSide.BUY,
        cid,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop_loss),
    )


def legs(client: TradingClient, parent: Order) -> dict[str, Order]:
    """The legs of a bracket by type ("stop", "limit"), read with nested=True."""
    got = client.get_order_by_id(parent.id, GetOrderByIdRequest(nested=True))
    assert isinstance(got, Order) and got.legs is not None
    return {str(leg.type.value if leg.type else ""): leg for leg in got.legs}


def api_error(excinfo: pytest.ExceptionInfo[APIError]) -> tuple[int | None, int, dict[str, Any]]:
    err = excinfo.value
    return err.status_code, err.code, json.loads(str(err))


# ---------------------------------------------------------------- shapes the SDK parses


def test_account_clock_asset_and_positions_parse(client: TradingClient) -> None:
    acct = client.get_account()
    assert acct.status == "ACTIVE" and acct.multiplier == "1"
    assert acct.cash == "100000" and acct.buying_power == "100000" and acct.equity == "100000"
    clock = client.get_clock()
    # 21:00 UTC on Tuesday 2026-01-13 is 16:00 ET: closed, opens 09:30 the next day.
    assert clock.is_open is False
    assert clock.timestamp.utcoffset() is not None
    assert clock.next_open == datetime(2026, 1, 14, 14, 30, tzinfo=UTC)
    assert clock.next_close == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    asset = client.get_asset("BABA")
    assert asset.symbol == "BABA" and asset.exchange == "NYSE" and asset.tradable
    assert asset.shortable and not asset.fractionable
    assert [a.symbol for a in client.get_all_assets()] == ["BABA"]
    assert client.get_all_positions() == []
    assert client.get_orders() == []


def test_clock_is_open_during_the_session(server: EmulatorServer, client: TradingClient) -> None:
    advance(server, "2026-01-14T15:00:00Z")  # 10:00 ET
    clock = client.get_clock()
    assert clock.is_open is True
    assert clock.next_close == datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def test_calendar_has_holidays_and_early_closes(client: TradingClient) -> None:
    days = client.get_calendar(GetCalendarRequest(start=date(2025, 11, 26), end=date(2026, 1, 21)))
    by_date = {d.date: d for d in days}
    assert date(2026, 1, 19) not in by_date  # Martin Luther King Jr. Day
    assert date(2025, 11, 27) not in by_date  # Thanksgiving
    assert by_date[date(2025, 11, 28)].close == datetime(2025, 11, 28, 13, 0)  # day after
    assert by_date[date(2026, 1, 20)].open == datetime(2026, 1, 20, 9, 30)
    assert by_date[date(2026, 1, 20)].close == datetime(2026, 1, 20, 16, 0)


# ---------------------------------------------------------------- orders and fills


def test_market_buy_after_hours_fills_at_next_open(
    server: EmulatorServer, client: TradingClient
) -> None:
    order = client.submit_order(market(100, OrderSide.BUY, "buy-1"))
    assert isinstance(order, Order)
    assert order.status == OrderStatus.ACCEPTED  # market closed: received, not routed
    assert order.filled_qty == "0" and order.filled_at is None

    advance(server, "2026-01-14T15:00:00Z")
    filled = client.get_order_by_client_id("buy-1")
    assert isinstance(filled, Order)
    # CSV 2026-01-14: open 171.57 (high 172.8, low 169.85, close 169.9).
    assert filled.status == OrderStatus.FILLED
    assert float(filled.filled_avg_price or 0) == 171.57 and filled.filled_qty == "100"
    assert filled.filled_at == datetime(2026, 1, 14, 14, 30, tzinfo=UTC)
    pos = client.get_open_position("BABA")
    assert pos.qty == "100" and pos.avg_entry_price == "171.57"
    assert float(client.get_account().cash) == 100_000 - 100 * 171.57  # 82843

    sell = client.submit_order(market(100, OrderSide.SELL, "sell-1"))
    assert sell.status == OrderStatus.NEW  # 10:00 ET: the market is open
    advance(server, "2026-01-15T15:00:00Z")
    # CSV 2026-01-15: open 169.65.
    done = client.get_order_by_client_id("sell-1")
    assert done.status == OrderStatus.FILLED and float(done.filled_avg_price or 0) == 169.65
    assert client.get_all_positions() == []
    with pytest.raises(APIError) as exc:
        client.get_open_position("BABA")
    assert api_error(exc)[:2] == (404, 40410000)
    assert float(client.get_account().cash) == pytest.approx(100_000 - 17157 + 16965)


def test_day_limit_order_expires_at_the_close(
    server: EmulatorServer, client: TradingClient
) -> None:
    req = LimitOrderRequest(
        symbol="BABA",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=150,
        client_order_id="cheap",
    )
    assert client.submit_order(req).status == OrderStatus.ACCEPTED
    # Received after the 2026-01-13 close, it belongs to the 2026-01-14 session, whose low
    # (169.85) never reached 150: still working at 15:00 ET, expired after 16:00 ET.
    advance(server, "2026-01-14T20:00:00Z")
    assert client.get_order_by_client_id("cheap").status == OrderStatus.NEW
    advance(server, "2026-01-14T21:00:00Z")
    assert client.get_order_by_client_id("cheap").status == OrderStatus.EXPIRED
    assert client.get_account().buying_power == "100000"  # the hold is released


def test_client_order_id_lookup_and_uniqueness(client: TradingClient) -> None:
    first = client.submit_order(market(5, OrderSide.BUY, "dup"))
    found = client.get_order_by_client_id("dup")
    assert isinstance(found, Order) and found.id == first.id
    with pytest.raises(APIError) as exc:
        client.submit_order(market(5, OrderSide.BUY, "dup"))
    assert api_error(exc)[:2] == (422, 40010001)
    assert "client_order_id must be unique" in exc.value.message
    client.cancel_order_by_id(first.id)
    assert client.get_order_by_client_id("dup").status == OrderStatus.CANCELED
    with pytest.raises(APIError) as exc:  # unique forever, even after a cancel
        client.submit_order(market(5, OrderSide.BUY, "dup"))
    assert api_error(exc)[:2] == (422, 40010001)
    with pytest.raises(APIError) as exc:  # a canceled order cannot be canceled again
        client.cancel_order_by_id(first.id)
    assert api_error(exc)[:2] == (422, 42210000)
    with pytest.raises(APIError) as exc:
        client.get_order_by_client_id("never-sent")
    assert api_error(exc)[:2] == (404, 40410000)
    with pytest.raises(APIError) as exc:
        client.get_order_by_id(uuid.uuid4())
    assert api_error(exc)[:2] == (404, 40410000)


def test_refusals_buying_power_qty_and_unknown_symbol(client: TradingClient) -> None:
    with pytest.raises(APIError) as exc:
        client.submit_order(market(10_000, OrderSide.BUY, "too-big"))
    status, code, body = api_error(exc)
    assert (status, code, body["message"]) == (403, 40310000, "insufficient buying power")
    # Last close (CSV 2026-01-13): 167.01; 10,000 shares cost 1,670,100 > 100,000 cash.
    assert body["buying_power"] == "100000" and float(body["cost_basis"]) == 1_670_100
    with pytest.raises(APIError) as exc:
        client.submit_order(market(0, OrderSide.BUY, "zero"))
    assert api_error(exc)[:2] == (422, 40010001) and exc.value.message == "qty must be > 0"
    with pytest.raises(APIError) as exc:
        client.submit_order(market(10, OrderSide.SELL, "naked"))
    status, code, body = api_error(exc)
    assert (status, code) == (403, 40310000)
    assert body["message"] == "insufficient qty available for order (requested: 10, available: 0)"
    with pytest.raises(APIError) as exc:
        client.submit_order(
            MarketOrderRequest(
                symbol="NOPE", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
    assert api_error(exc)[:2] == (422, 40010001)
    created = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert created == []  # nothing refused was created


def test_open_sell_orders_hold_their_shares(server: EmulatorServer, client: TradingClient) -> None:
    client.submit_order(market(100, OrderSide.BUY, "entry"))
    advance(server, "2026-01-14T15:00:00Z")
    working = client.submit_order(market(60, OrderSide.SELL))
    with pytest.raises(APIError) as exc:
        client.submit_order(market(50, OrderSide.SELL, "over"))
    assert api_error(exc)[2]["message"].endswith("(requested: 50, available: 40)")
    assert client.get_open_position("BABA").qty_available == "40"
    client.cancel_order_by_id(working.id)
    assert client.submit_order(market(50, OrderSide.SELL, "ok")).status == OrderStatus.NEW


def test_bracket_take_profit_fills_and_cancels_the_stop(
    server: EmulatorServer, client: TradingClient
) -> None:
    parent = client.submit_order(bracket("br-1", take_profit=180, stop_loss=160))
    assert parent.status == OrderStatus.ACCEPTED and parent.order_class == OrderClass.BRACKET
    held = legs(client, parent)
    assert {leg.status for leg in held.values()} == {OrderStatus.HELD}
    advance(server, "2026-01-14T15:00:00Z")
    # Entry filled: the take-profit works (`new`); Alpaca keeps showing the stop `held`
    # (the emulator does with its `held_stop_leg` knob, tested in test_emulator_strict2).
    working = legs(client, parent)
    assert working["limit"].status == OrderStatus.NEW
    shown = OrderStatus.HELD if server.state.held_stop_leg else OrderStatus.NEW
    assert working["stop"].status == shown
    advance(server, "2026-02-06T21:00:00Z")
    # Entry at the 2026-01-14 open, 171.57. Sessions after it, low/high:
    # 01-14 169.85/172.8, 01-15 167.34/173.3, 01-16 163.5/169.85, 01-20 161.68/166.17,
    # 01-21 165.66/169.87, 01-22 open 176.43, high 181.1 >= 180 (no gap): take-profit
    # fills at its limit, 180, and the stop at 160 is canceled.
    done = legs(client, parent)
    assert done["limit"].status == OrderStatus.FILLED
    assert float(done["limit"].filled_avg_price or 0) == 180.0
    assert done["limit"].filled_at is not None
    assert done["limit"].filled_at.date() == date(2026, 1, 22)
    assert done["stop"].status == OrderStatus.CANCELED
    assert client.get_all_positions() == []
    assert float(client.get_account().cash) == pytest.approx(100_000 + 100 * (180 - 171.57))


def test_bracket_stop_gapped_through_fills_at_the_open(
    server: EmulatorServer, client: TradingClient
) -> None:
    parent = client.submit_order(bracket("br-2", take_profit=185, stop_loss=162.5))
    advance(server, "2026-02-06T21:00:00Z")
    # Lows after the 171.57 entry: 169.85, 167.34, 163.5 (01-16, above 162.5), then
    # 2026-01-20 opens at 161.83, below the stop: the gap rule fills it at the open.
    done = legs(client, parent)
    assert done["stop"].status == OrderStatus.FILLED
    assert float(done["stop"].filled_avg_price or 0) == 161.83
    assert done["stop"].filled_at is not None
    assert done["stop"].filled_at.date() == date(2026, 1, 20)
    assert done["limit"].status == OrderStatus.CANCELED


def test_bracket_legs_meet_the_rest_of_the_entry_bar(
    server: EmulatorServer, client: TradingClient
) -> None:
    admin(server, "reset", {"now": "2026-01-28T21:00:00Z"})  # after the 01-28 close, 175.66
    parent = client.submit_order(bracket("br-4", take_profit=180, stop_loss=172))
    advance(server, "2026-01-29T21:00:00Z")
    # CSV 2026-01-29: open 178.34, high 180.75, low 171.6. The entry fills at the open;
    # the rest of that bar reaches both legs, neither at the open, so placement order
    # decides (as in SimBroker): the stop, at 172; the take-profit is canceled.
    done = legs(client, parent)
    assert float(client.get_order_by_id(parent.id).filled_avg_price or 0) == 178.34
    assert done["stop"].status == OrderStatus.FILLED
    assert float(done["stop"].filled_avg_price or 0) == 172.0
    assert done["limit"].status == OrderStatus.CANCELED


def test_oto_has_one_leg(server: EmulatorServer, client: TradingClient) -> None:
    parent = client.submit_order(
        market(
            100,
            OrderSide.BUY,
            "oto-1",
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=165),
        )
    )
    assert set(legs(client, parent)) == {"stop"}
    advance(server, "2026-01-16T21:00:00Z")
    # Entry 2026-01-14 at 171.57; lows 169.85 (01-14), 167.34 (01-15), then 2026-01-16
    # opens at 169.78 and trades down to 163.5: the stop fills at 165.
    stop = legs(client, parent)["stop"]
    assert stop.status == OrderStatus.FILLED and float(stop.filled_avg_price or 0) == 165.0
    assert client.get_all_positions() == []


def test_replace_stop_leg_keeps_the_bracket_linked(
    server: EmulatorServer, client: TradingClient
) -> None:
    parent = client.submit_order(bracket("br-3", take_profit=185, stop_loss=160))
    advance(server, "2026-01-14T15:00:00Z")
    old = legs(client, parent)["stop"]
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(stop_price=164))
    assert isinstance(new, Order) and new.id != old.id and new.replaces == old.id
    assert new.stop_price == "164" and new.client_order_id == old.client_order_id
    assert client.get_order_by_id(old.id).status == OrderStatus.REPLACED
    assert client.get_order_by_client_id(old.client_order_id).id == new.id  # the live one
    advance(server, "2026-01-21T21:00:00Z")
    # 2026-01-16: open 169.78 above 164, low 163.5 <= 164: the stop fills at 164.
    done = legs(client, parent)
    assert done["stop"].id == new.id and done["stop"].status == OrderStatus.FILLED
    assert float(done["stop"].filled_avg_price or 0) == 164.0
    assert done["limit"].status == OrderStatus.CANCELED


def test_orders_list_cancel_all_and_close_positions(
    server: EmulatorServer, client: TradingClient
) -> None:
    client.submit_order(market(100, OrderSide.BUY, "a"))
    advance(server, "2026-01-14T15:00:00Z")
    for cid in ("b", "c"):
        client.submit_order(
            LimitOrderRequest(
                symbol="BABA",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                limit_price=100,
                client_order_id=cid,
            )
        )
    open_ids = [o.client_order_id for o in client.get_orders()]
    assert open_ids == ["c", "b"]  # newest first
    everything = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc"))
    assert [o.client_order_id for o in everything] == ["a", "b", "c"]
    canceled = client.cancel_orders()
    assert sorted(str(r.id) for r in canceled) == sorted(
        str(o.id) for o in everything if o.client_order_id != "a"
    )
    assert all(r.status == 200 for r in canceled)
    closing = client.close_position("BABA")
    assert isinstance(closing, Order) and closing.side == OrderSide.SELL and closing.qty == "100"
    advance(server, "2026-01-15T15:00:00Z")
    assert client.get_all_positions() == []
    assert client.close_all_positions(cancel_orders=True) == []


def test_injected_position_is_reported(server: EmulatorServer, client: TradingClient) -> None:
    admin(server, "position", {"symbol": "BABA", "qty": 30, "avg_entry_price": 150.0})
    pos = client.get_open_position("BABA")
    assert pos.qty == "30" and pos.avg_entry_price == "150"
    assert pos.current_price == "167.01"  # the 2026-01-13 close
    assert client.get_account().cash == "100000"  # injected, not bought
    state = admin(server, "state")
    assert state["positions"][0]["qty"] == "30" and state["orders"] == []


# ---------------------------------------------------------------- market data


def csv_rows(first: date, last: date) -> list[tuple[str, float, float, float, float, float]]:
    """The daily CSV rows between two dates, read with the csv module (not bot.data.load)."""
    with (DATA_DIR / "BABA_1d.csv").open(newline="") as fh:
        return [
            (
                r["timestamp"],
                float(r["open"]),
                float(r["high"]),
                float(r["low"]),
                float(r["close"]),
                float(r["volume"]),
            )
            for r in csv.DictReader(fh)
            if first.isoformat() <= r["timestamp"] <= last.isoformat()
        ]


def bars(server: EmulatorServer, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    got = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="BABA",
            timeframe=TimeFrame.Day,
            start=start,
            end=end,
            limit=None,
            # IEX: the default free plan refuses SIP data of the last 15 minutes (that
            # refusal is tested in tests/test_emulator_strict.py).
            feed=DataFeed.IEX,
        )
    )
    return [
        (b.timestamp.astimezone(UTC).date().isoformat(), b.open, b.high, b.low, b.close, b.volume)
        for b in got.data.get("BABA", [])
    ]


def test_stock_bars_match_the_csv_and_page(server: EmulatorServer) -> None:
    start, end = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC)
    # Daily bars are stamped at midnight ET (05:00 UTC), so the 2026-01-13 bar is after `end`.
    expected = csv_rows(date(2025, 12, 1), date(2026, 1, 12))
    assert len(expected) == 29
    assert bars(server, start, end) == expected
    admin(server, "config", {"bars_page_size": 10})
    assert bars(server, start, end) == expected
    assert admin(server, "stats")["by_route"]["GET /v2/stocks/bars"] == 1 + 3  # 10+10+9


def test_stock_bars_never_show_a_bar_before_it_starts(server: EmulatorServer) -> None:
    start, far = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    admin(server, "reset", {"now": "2026-01-14T14:29:00Z"})  # 09:29 ET: not open yet
    assert bars(server, start, far) == csv_rows(date(2026, 1, 1), date(2026, 1, 13))
    advance(server, "2026-01-14T14:30:00Z")  # 09:30 ET: the 2026-01-14 bar has started
    got = bars(server, start, far)
    assert got[:-1] == csv_rows(date(2026, 1, 1), date(2026, 1, 13))
    # As it stands at the open: nothing traded yet but the opening print, CSV open 171.57.
    assert got[-1] == ("2026-01-14", 171.57, 171.57, 171.57, 171.57, 0)


def test_daily_bar_of_an_early_close_is_final_after_13_00(server: EmulatorServer) -> None:
    start, far = datetime(2025, 11, 25, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    admin(server, "reset", {"now": "2025-11-28T17:59:00Z"})  # 12:59 ET, the day after Thanksgiving
    got = bars(server, start, far)
    assert got[:-1] == csv_rows(date(2025, 11, 25), date(2025, 11, 26))
    final = csv_rows(date(2025, 11, 28), date(2025, 11, 28))[0]
    assert got[-1][0] == "2025-11-28" and got[-1] != final  # still trading
    advance(server, "2025-11-28T18:00:00Z")  # 13:00 ET: the early close
    # The first final version lacks the late prints: CSV 2025-11-28 is 156.16, 158.69,
    # 155.68, 157.3, 7185491; served with the close 0.01 lower and 2% less volume.
    assert bars(server, start, far)[-1] == ("2025-11-28", 156.16, 158.69, 155.68, 157.29, 7041781)
    advance(server, "2025-11-28T18:10:00Z")  # 600 s of emulator time later: the true bar
    assert bars(server, start, far) == csv_rows(date(2025, 11, 25), date(2025, 11, 28))


def test_minute_bars_are_served(server: EmulatorServer) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    advance(server, "2026-01-30T00:00:00Z")
    got = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="BABA",
            timeframe=TimeFrame.Minute,
            start=datetime(2026, 1, 29, 14, 30, tzinfo=UTC),
            end=datetime(2026, 1, 29, 14, 35, tzinfo=UTC),
        )
    )
    # CSV rows 2026-01-29T09:30 .. 09:35 ET (regular hours only); 09:32 holds the
    # opening print, open 178.34 (the daily open).
    first = got["BABA"]
    assert [b.timestamp.minute for b in first] == [30, 31, 32, 33, 34, 35]
    assert first[2].open == 178.34


# ---------------------------------------------------------------- auth


def test_wrong_secret_is_401(server: EmulatorServer) -> None:
    bad = TradingClient(KEY, "wrong", paper=True, url_override=server.url)
    with pytest.raises(APIError) as exc:
        bad.get_account()
    assert api_error(exc)[:2] == (401, 40110000)
    assert exc.value.message == "request is not authorized"
    resp = requests.get(f"{server.url}/v2/clock", timeout=5)  # no headers at all
    assert resp.status_code == 401 and resp.json()["code"] == 40110000
