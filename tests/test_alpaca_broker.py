"""LiveBroker and the paper runner over the real alpaca-py SDK, against our emulator on
127.0.0.1 (scenarios 4, 6-11 and 22). No mock of our own broker classes: every order
goes through alpaca-py, HTTP and the emulator, which counts what it received.

Expected trades (default config, by hand from data/BABA_1d.csv): the breakout is
confirmed at the 2026-01-13 close (166.31, 167.01 > 165.0643) and the breakdown at the
2026-02-05 close (159.14, 157.76 < 161.7957); 25% of 100,000 at the 167.01 close is
149 shares; the emulator here has no slippage, so the buy fills at the 2026-01-14 open
171.57 and the sell at the 2026-02-06 open 160.46.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient

from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.broker.live import LiveBroker, ReconcileError
from bot.broker.sim import BrokerError
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.emulator.client import EmulatorAdmin
from bot.live.feeds import ReplayFeed
from bot.live.runner import PaperRunner
from bot.models import OrderIntent, Side
from bot.settings import Settings
from bot.store.state import StateStore

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KEY, SECRET = "Qz7Xc2LmW9tR", "vT8qZr4Wk2Lp9Xn3Bc7D"  # canaries
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them
BUY = "lb-BABA-r163.43-20260113T0000-buy"
SELL = "lb-BABA-r163.43-20260205T0000-sell"


@pytest.fixture(scope="module")
def market() -> Any:
    return EmulatorState.from_dir(DATA, datetime(2025, 8, 29, 20, 0, tzinfo=UTC)).market


def start_state(market: Any, now: datetime) -> EmulatorState:
    return EmulatorState(market, now, slippage_bps=0.0)


@pytest.fixture
def server(market: Any) -> Iterator[EmulatorServer]:
    # 2025-08-29 20:00 UTC = 16:00 ET: the close of the last bar before the replay
    state = start_state(market, datetime(2025, 8, 29, 20, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(seed=7), api_key=KEY, secret_key=SECRET) as srv:
        yield srv


def admin(server: EmulatorServer, route: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{server.url}/_emulator/{route}"
    resp = (
        requests.post(url, json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(url, timeout=10, headers=ADMIN)
    )
    resp.raise_for_status()
    return resp.json()


def settings(server: EmulatorServer, tmp_path: Path, **alpaca: Any) -> Settings:
    return load_settings(
        None,
        {
            "broker": {"slippage_bps": 0.0},
            "alpaca": {
                "trading_url": server.url,
                "data_url": server.url,
                "read_timeout_s": 2.0,
                "connect_timeout_s": 2.0,
                "backoff_base_s": 0.001,
                **alpaca,
            },
            "paper": {
                "state_dir": str(tmp_path / "state"),
                "log_dir": str(tmp_path / "logs"),
                "halt_file": str(tmp_path / "state" / "HALT"),
            },
        },
    )


def replay(s: Settings, server: EmulatorServer, to: str = "2026-02-20", adopt: bool = False) -> Any:
    series = load_csv(DATA / "BABA_1d.csv").bars
    series = series.slice(0, series.index_of(f"{to}T23:59", "right"))
    api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))  # the emulator is not Alpaca
    feed = ReplayFeed(series, EmulatorAdmin(server.url, keys=(KEY, SECRET)))
    runner = PaperRunner(s, api, feed, "emulator", adopt=adopt, sleep=lambda _: None)
    return runner.run()


def created(server: EmulatorServer) -> dict[str, int]:
    return dict(admin(server, "stats")["orders_created"])


def fills_of(server: EmulatorServer) -> list[tuple[str, str, float, float]]:
    st = admin(server, "state")
    return [
        (o["client_order_id"], o["side"], o["filled_qty"], o["filled_avg_price"])
        for o in st["orders"]
        if o["filled_qty"]
    ]


def position(server: EmulatorServer) -> float:
    pos = admin(server, "state")["positions"]
    return sum(float(p["qty"]) for p in pos)


EXPECTED = [(BUY, "buy", 149.0, 171.57), (SELL, "sell", 149.0, 160.46)]


def test_breakout_is_one_market_order_and_breakdown_closes_it(
    server: EmulatorServer, tmp_path: Path
) -> None:
    s = settings(server, tmp_path)
    replay(s, server, to="2026-01-20")
    assert created(server) == {BUY: 1}
    assert position(server) == 149.0
    replay(s, server)  # the same bot carries on to the end
    assert created(server) == {BUY: 1, SELL: 1}
    assert fills_of(server) == EXPECTED
    assert position(server) == 0.0
    store = StateStore(tmp_path / "state" / "state.sqlite")
    assert [(f.client_order_id, f.qty, f.price) for f in store.fills()] == [
        (BUY, 149, 171.57),
        (SELL, 149, 160.46),
    ]
    store.close()


def test_restart_with_an_open_order_reattaches_it(server: EmulatorServer, tmp_path: Path) -> None:
    s = settings(server, tmp_path)
    replay(s, server, to="2026-01-13")  # the buy is sent after the 01-13 close, not filled yet
    st = admin(server, "state")
    assert [(o["client_order_id"], o["status"]) for o in st["orders"]] == [(BUY, "accepted")]
    replay(s, server)  # restart: the open order is found, not sent again
    stats = admin(server, "stats")
    assert stats["order_posts"][BUY] == 1 and stats["orders_created"] == {BUY: 1, SELL: 1}
    assert fills_of(server) == EXPECTED


BUSY = {
    "levels": [150.0, 160.0, 170.0, 180.0],
    "use_52w_peak": False,
    "confirm_closes": 1,
    "volume_multiple": 0.0,
    "breakout_buffer_pct": 0.5,
    "breakdown_buffer_pct": 0.5,
}


def busy_run(
    market: Any, tmp_path: Path, faults: dict[str, Any] | None
) -> tuple[dict[str, int], Any]:
    # a year of replay: the emulator's clock starts at the 2024-12-31 close (21:00 UTC)
    state = start_state(market, datetime(2024, 12, 31, 21, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(seed=1), api_key=KEY, secret_key=SECRET) as srv:
        if faults:
            admin(srv, "faults", faults)
        s = settings(srv, tmp_path)
        s.strategy = s.strategy.model_copy(update=BUSY)
        s.paper.replay_from = date(2025, 1, 2)
        replay(s, srv)
        admin(srv, "faults", {"error_rate": 0.0})
        return created(srv), fills_of(srv)


@pytest.mark.slow  # 15-20 s a seed through retries
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_thirty_percent_errors_every_order_exactly_once(
    market: Any, tmp_path: Path, seed: int
) -> None:
    """A busy rule set (many trades), 30% of requests answered 500/503/429: the orders
    and fills equal a fault-free run's, each client order id created exactly once."""
    ref_created, ref_fills = busy_run(market, tmp_path / "ref", None)
    assert len(ref_created) >= 6  # enough orders for the noise to matter
    got_created, got_fills = busy_run(
        market,
        tmp_path / "noisy",
        {"error_rate": 0.3, "error_codes": [500, 503, 429], "seed": seed},
    )
    assert set(got_created.values()) == {1}
    assert got_created == ref_created and got_fills == ref_fills
    events = [
        json.loads(x)
        for x in (tmp_path / "noisy" / "logs" / "events.jsonl").read_text().splitlines()
    ]
    hits = [e for e in events if e["event"] == "retry" or e.get("status") == "in_doubt"]
    assert len(hits) >= 20  # the noise really hit: a clock call on every bar, orders, look-ups


@pytest.mark.slow  # waits out read time-outs
def test_accepted_but_response_dropped_is_settled_not_resent(
    server: EmulatorServer, tmp_path: Path
) -> None:
    # every POST /v2/orders is held 3 s (> the 1 s read time-out): the client sees a time-out
    admin(server, "faults", {"drop_response_rate": 1.0, "drop_hold_s": 3.0})
    s = settings(server, tmp_path, read_timeout_s=1.0)
    replay(s, server)
    admin(server, "faults", {"drop_response_rate": 0.0})
    stats = admin(server, "stats")
    assert stats["orders_created"] == {BUY: 1, SELL: 1}
    assert stats["order_posts"] == {BUY: 1, SELL: 1}  # settled by lookup: never sent twice
    assert fills_of(server) == EXPECTED


def _broker(server: EmulatorServer, tmp_path: Path, **alpaca: Any) -> LiveBroker:
    s = settings(server, tmp_path, **alpaca)
    return LiveBroker(
        AlpacaApi(s.alpaca, KEY, SECRET),
        StateStore(tmp_path / "b.sqlite"),
        "BABA",
        backoff_base_s=0.001,
        sleep=lambda _: None,
    )


def test_duplicate_id_is_adopted(server: EmulatorServer, tmp_path: Path) -> None:
    broker = _broker(server, tmp_path)
    intent = OrderIntent("dup-1", "BABA", Side.BUY, 10)
    # the same order already reached the broker (a retry that raced, a restart)
    first = broker.api.submit(intent)
    bar = load_csv(DATA / "BABA_1d.csv").bars.slice(0, 1)
    assert broker.submit(intent, next(bar.iter_bars())) == []
    rec = broker.store.get_order("dup-1")
    assert rec is not None and rec.broker_id == first.id and rec.status == "accepted"
    stats = admin(server, "stats")
    assert stats["order_posts"]["dup-1"] == 2 and stats["orders_created"] == {"dup-1": 1}


def test_insufficient_buying_power_is_logged_and_not_retried(
    server: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = _broker(server, tmp_path)
    bar = next(load_csv(DATA / "BABA_1d.csv").bars.iter_bars(0, 1))
    with caplog.at_level(logging.ERROR), pytest.raises(BrokerError) as exc:
        broker.submit(OrderIntent("big-1", "BABA", Side.BUY, 10_000), bar)
    assert (exc.value.status, exc.value.code) == (403, 40310000)
    assert admin(server, "stats")["order_posts"] == {"big-1": 1}
    rec = broker.store.get_order("big-1")
    assert rec is not None and rec.status == "rejected"
    lines = [r.getMessage() for r in caplog.records if "big-1" in r.getMessage()]
    assert (
        len(lines) == 1
        and "403" in lines[0]
        and "40310000" in lines[0]
        and "buying power" in lines[0]
    )


def test_unknown_position_stops_trading(server: EmulatorServer, tmp_path: Path) -> None:
    admin(server, "position", {"symbol": "BABA", "qty": 50, "avg_entry_price": 150.0})
    s = settings(server, tmp_path)
    with pytest.raises(ReconcileError) as exc:
        replay(s, server)
    msg = str(exc.value)
    assert "broker holds 50 shares" in msg and "record says 0" in msg and "--adopt" in msg
    assert admin(server, "stats")["order_posts"] == {}  # nothing was sent
    summary = replay(s, server, to="2025-09-05", adopt=True)  # explicit adoption
    assert summary.position == 50


def test_unknown_open_order_stops_trading(server: EmulatorServer, tmp_path: Path) -> None:
    client = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest

    client.submit_order(
        LimitOrderRequest(
            symbol="BABA",
            qty=5,
            side=OrderSide.BUY,
            limit_price=50.0,
            time_in_force=TimeInForce.GTC,
            client_order_id="manual-1",
        )
    )
    with pytest.raises(ReconcileError, match="open order the bot does not know: manual-1"):
        replay(settings(server, tmp_path), server)


def test_black_hole_calls_end_within_their_time_out(server: EmulatorServer, tmp_path: Path) -> None:
    admin(server, "faults", {"black_hole": True, "drop_hold_s": 30.0})
    broker = _broker(server, tmp_path, read_timeout_s=0.5, connect_timeout_s=0.5)
    bar = next(load_csv(DATA / "BABA_1d.csv").bars.iter_bars(0, 1))
    # Each call is cut by its own time-out (the 30 s hold would otherwise block the
    # test): one POST, then the 3 look-ups of the settle, then the order is "unknown".
    broker.submit(OrderIntent("hole-1", "BABA", Side.BUY, 1), bar)
    by_route = admin(server, "stats")["by_route"]
    assert by_route.get("POST /v2/orders") == 1
    assert by_route.get("GET /v2/orders:by_client_order_id") == 3
    rec = broker.store.get_order("hole-1")
    assert rec is not None and rec.status == "unknown"
    assert broker.entry_block() is not None and "hole-1" in (broker.entry_block() or "")


def test_a_stock_alpaca_py_client_hangs_on_a_black_hole(server: EmulatorServer) -> None:
    """Why the hardening exists: alpaca-py sets no time-out (this would hang forever)."""
    admin(server, "faults", {"black_hole": True, "drop_hold_s": 30.0})
    client = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
    done = threading.Event()

    def call() -> None:
        with contextlib.suppress(Exception):
            client.get_clock()
        done.set()

    threading.Thread(target=call, daemon=True).start()
    assert not done.wait(3.0)  # still blocked after 6x our read time-out
    admin(server, "faults", {"black_hole": False})
    server.stop()  # releases the held request


def test_secret_never_in_logs_state_or_output(
    server: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    from bot.events.journal import setup_logging

    setup_logging(tmp_path / "logs", level="DEBUG")  # urllib3 and our DEBUG lines included
    logging.getLogger("bot.test").error("forced error with the secret %s inside", SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        logging.getLogger("bot.test").exception("a crash traceback")
    admin(server, "faults", {"error_rate": 0.2, "error_codes": [500, 429], "seed": 5})
    replay(settings(server, tmp_path), server, to="2026-01-20")
    # a wrong key: the error message must not echo what was sent
    bad = settings(server, tmp_path / "bad")
    with pytest.raises(BrokerError):
        AlpacaApi(bad.alpaca, KEY, SECRET + "x").account()
    logging.shutdown()
    out = capsys.readouterr()
    blobs = [out.out, out.err]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            blobs.append(path.read_bytes().decode("utf-8", "replace"))
    text = "\n".join(blobs)
    assert "REDACTED" in text  # the filter did its job on the forced lines
    for secret in (KEY, SECRET):
        for i in range(len(secret) - 5):
            assert secret[i : i + 6] not in text, (
                f"a 6-character piece of a secret leaked: {secret[i : i + 6]}"
            )
