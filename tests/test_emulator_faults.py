"""Injected faults of the Alpaca emulator, seen through the real alpaca-py SDK.

Each fault is checked for what the client sees (status, headers, a timeout) and for
what happened on the server (nothing for an injected error; the order for a dropped
response). Hold times are short so that the file runs in a few seconds.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from bot.emulator import EmulatorServer, EmulatorState, Faults

DATA_DIR = Path(__file__).parents[1] / "data"
START = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)
KEY, SECRET = "k", "s"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    state = EmulatorState(loaded.market, START)
    with EmulatorServer(state, Faults(seed=1), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> TradingClient:
    c = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
    c._retry_wait = 0  # the SDK sleeps 3 s between its retries of a 429/504
    return c


def admin(server: EmulatorServer, route: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{server.url}/_emulator/{route}"
    if body is None:
        resp = requests.get(url, timeout=5, headers=ADMIN)
    else:
        resp = requests.post(url, json=body, timeout=5, headers=ADMIN)
    resp.raise_for_status()
    return resp.json()


def buy(cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="BABA",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid,
    )


def test_injected_errors_fail_every_call_and_create_nothing(
    server: EmulatorServer, client: TradingClient
) -> None:
    admin(server, "faults", {"error_rate": 1.0, "error_codes": [503]})
    for call in (client.get_account, client.get_clock, lambda: client.submit_order(buy("e1"))):
        with pytest.raises(APIError) as exc:
            call()
        assert exc.value.status_code == 503 and exc.value.code == 50310000
    # The admin routes are never faulted, and the failed POST created nothing.
    stats = admin(server, "stats")
    assert stats["order_posts"] == {"e1": 1} and stats["orders_created"] == {}
    assert admin(server, "state")["orders"] == []
    admin(server, "faults", {"error_rate": 0.0})
    assert client.submit_order(buy("e1")).status == OrderStatus.ACCEPTED


def test_rate_limit_carries_the_headers_and_is_retried(
    server: EmulatorServer, client: TradingClient
) -> None:
    admin(server, "faults", {"error_rate": 1.0, "error_codes": [429]})
    before = int(datetime.now(UTC).timestamp())
    with pytest.raises(APIError) as exc:
        client.get_clock()
    assert exc.value.status_code == 429 and exc.value.code == 42910000
    headers = exc.value.response.headers
    assert headers["X-RateLimit-Remaining"] == "0" and int(headers["X-RateLimit-Limit"]) > 0
    assert int(headers["X-RateLimit-Reset"]) >= before + 1
    # alpaca-py retries a 429 three times: four requests in all.
    assert admin(server, "stats")["by_route"] == {"GET /v2/clock": 4}


def test_dropped_response_times_out_but_the_order_exists(
    server: EmulatorServer, client: TradingClient
) -> None:
    admin(server, "faults", {"drop_next": 1, "drop_hold_s": 3.0})
    # alpaca-py sets no timeout; a bot must, so the test does it the same way.
    session = client._session
    session.request = functools.partial(session.request, timeout=1.0)  # type: ignore[method-assign]
    with pytest.raises(requests.exceptions.Timeout):
        client.submit_order(buy("lost-1"))
    found = client.get_order_by_client_id("lost-1")
    assert found.client_order_id == "lost-1" and found.status == OrderStatus.ACCEPTED
    stats = admin(server, "stats")
    assert stats["orders_created"] == {"lost-1": 1} and stats["order_posts"] == {"lost-1": 1}
    # A blind resend is refused: the id is taken, so no second order can exist.
    with pytest.raises(APIError) as exc:
        client.submit_order(buy("lost-1"))
    assert exc.value.status_code == 422 and exc.value.code == 40010001
    stats = admin(server, "stats")
    assert stats["orders_created"] == {"lost-1": 1} and stats["order_posts"] == {"lost-1": 2}
    assert admin(server, "faults")["drop_next"] == 0  # only the next one was dropped


def test_black_hole_hangs_requests_but_not_admin(server: EmulatorServer) -> None:
    admin(server, "faults", {"black_hole": True, "drop_hold_s": 5.0})
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(f"{server.url}/v2/clock", timeout=0.5)
    assert admin(server, "state")["now"] == "2026-01-13T21:00:00Z"
    admin(server, "faults", {"black_hole": False})
    ok = requests.get(
        f"{server.url}/v2/clock",
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=5,
    )
    assert ok.status_code == 200 and ok.json()["is_open"] is False


def test_delay_is_added_to_responses(server: EmulatorServer, client: TradingClient) -> None:
    admin(server, "faults", {"delay_s": 1.0})
    session = client._session
    session.request = functools.partial(session.request, timeout=0.3)  # type: ignore[method-assign]
    with pytest.raises(requests.exceptions.Timeout):
        client.get_clock()


def test_server_stops_while_a_request_is_held(loaded: EmulatorState) -> None:
    srv = EmulatorServer(
        EmulatorState(loaded.market, START), Faults(black_hole=True), api_key=KEY, secret_key=SECRET
    ).start()
    outcome: list[str] = []

    def hang() -> None:
        try:
            requests.get(f"{srv.url}/v2/clock", timeout=20)
            outcome.append("answered")
        except requests.exceptions.ConnectionError:
            outcome.append("closed")

    waiter = threading.Thread(target=hang, daemon=True)
    waiter.start()
    while admin(srv, "stats")["requests"] == 0:  # the request has reached the server
        pass
    srv.stop()
    waiter.join(5)
    assert not waiter.is_alive() and outcome  # released long before the 30 s hold
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{srv.url}/_emulator/state", timeout=1, headers=ADMIN)


def test_fault_settings_are_validated_and_reproducible(server: EmulatorServer) -> None:
    resp = requests.post(
        f"{server.url}/_emulator/faults", json={"error_rate": 2}, timeout=5, headers=ADMIN
    )
    assert resp.status_code == 422 and resp.json()["code"] == 40010001
    resp = requests.post(
        f"{server.url}/_emulator/faults", json={"typo": 1}, timeout=5, headers=ADMIN
    )
    assert resp.status_code == 422 and "typo" in resp.json()["message"]
    assert admin(server, "faults")["error_rate"] == 0.0  # nothing half-applied
    draws = []
    for _ in range(2):
        f = Faults(error_rate=0.5, seed=7)
        draws.append([f.draw_error() for _ in range(40)])
    assert draws[0] == draws[1] and {None, 500, 503, 429} >= set(draws[0]) > {None}
