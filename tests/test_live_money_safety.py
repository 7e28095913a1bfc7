"""Money safety of the paper runner on a live account (issue 10, items 1, 3, 6, 7): each
runs the real engine, LiveBroker and alpaca-py against the emulator on 127.0.0.1, and
changes the account the way a user (or a crash) would while the bot runs.

Expected values are by hand from data/BABA_1d.csv (default config, no slippage): the
breakout is confirmed at the 2026-01-13 close, 149 shares (25% of 100,000 at the 167.01
close) are bought at the 2026-01-14 open 171.57; the breakdown is confirmed at the
2026-02-05 close. From data/BABA_1m_2026-01-29.csv with the one level 178.50, 1 close
to confirm and no buffers or volume rule, the level breaks out at 09:32, 09:52, 09:55
and down at 09:50, 09:54, 09:59 (by reading the closes around 178.50).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import ClosePositionRequest, MarketOrderRequest

from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.emulator.client import EmulatorAdmin
from bot.live.feeds import ReplayFeed
from bot.live.runner import PaperRunner, RunSummary
from bot.models import Bar, ns_to_et
from bot.settings import Settings

pytestmark = pytest.mark.slow  # whole replays against the emulator, 2-7 s each

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KEY, SECRET = "emulator-key", "emulator-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them
BUY = "lb-BABA-r163.43-20260113T0000-buy"
SELL = "lb-BABA-r163.43-20260205T0000-sell"
START = datetime(2025, 8, 29, 20, 0, tzinfo=UTC)  # 16:00 ET, the close before the replay


class HookFeed(ReplayFeed):
    """A replay that runs a user's action (at the broker) before the bar of a given day
    or minute reaches the engine, while the broker's clock still stands at the previous
    bar's close: an order placed then fills at that bar's open."""

    def __init__(
        self, series: BarSeries, admin: EmulatorAdmin, hooks: dict[str, Callable[[], None]]
    ) -> None:
        super().__init__(series, admin)
        self.hooks = dict(hooks)

    def before_bar(self, bar: Bar) -> None:
        t = ns_to_et(bar.ts)
        for key in (t.date().isoformat(), t.strftime("%H:%M")):
            hook = self.hooks.pop(key, None)
            if hook is not None:
                hook()
        super().before_bar(bar)


@pytest.fixture(scope="module")
def market() -> Any:
    return EmulatorState.from_dir(DATA, START).market


@pytest.fixture
def server(market: Any) -> Iterator[EmulatorServer]:
    with EmulatorServer(
        EmulatorState(market, START), Faults(), api_key=KEY, secret_key=SECRET
    ) as srv:
        yield srv


def admin(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    resp = (
        requests.post(f"{url}/_emulator/{route}", json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(f"{url}/_emulator/{route}", timeout=10, headers=ADMIN)
    )
    resp.raise_for_status()
    return resp.json()


def settings(url: str, tmp: Path, **tables: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {
        "broker": {"slippage_bps": 0.0},
        "alpaca": {"trading_url": url, "data_url": url, "backoff_base_s": 0.001},
        "paper": {
            "state_dir": str(tmp / "state"),
            "log_dir": str(tmp / "logs"),
            "halt_file": str(tmp / "state" / "HALT"),
        },
    }
    for table, values in tables.items():
        over[table] = {**over.get(table, {}), **values}
    return load_settings(None, over)


def run(
    s: Settings,
    url: str,
    series: BarSeries,
    hooks: dict[str, Callable[[], None]] | None = None,
) -> RunSummary:
    api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
    feed = HookFeed(series, EmulatorAdmin(url, keys=(KEY, SECRET)), hooks or {})
    return PaperRunner(s, api, feed, "emulator", sleep=lambda _: None).run()


def daily_until(day: str) -> BarSeries:
    series = load_csv(DATA / "BABA_1d.csv").bars
    return series.slice(0, series.index_of(f"{day}T23:59", "right"))


def events(tmp: Path) -> list[dict[str, Any]]:
    text = (tmp / "logs" / "events.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def broker_orders(url: str) -> dict[str, dict[str, Any]]:
    return {o["client_order_id"]: o for o in admin(url, "state")["orders"]}


def broker_qty(url: str) -> float:
    return sum(float(p["qty"]) for p in admin(url, "state")["positions"])


def client(url: str) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=url)


# ---------------------------------------------------------------- item 1


def test_position_closed_by_hand_is_never_sold_short(
    server: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The user closes the position in Alpaca's UI while the bot runs; shorting is
    allowed on the account. The bot's breakdown exit must not open a short of -149."""
    caplog.set_level(logging.INFO)
    url = server.url
    admin(url, "config", {"shorting": True})
    hooks = {"2026-01-21": lambda: client(url).close_position("BABA")}
    run(settings(url, tmp_path), url, daily_until("2026-02-20"), hooks)
    orders = broker_orders(url)
    assert orders[BUY]["filled_qty"] == 149
    assert SELL not in orders  # nothing was left to sell
    assert broker_qty(url) == 0.0  # flat, not short
    evs = events(tmp_path)
    mismatch = [e for e in evs if e["event"] == "position_mismatch"]
    assert len(mismatch) == 1  # said once, not every bar
    assert (mismatch[0]["broker_qty"], mismatch[0]["local_qty"]) == (0.0, 149.0)
    assert "--adopt" in mismatch[0]["resolve"]
    recs = [r for r in caplog.records if "MISMATCH" in r.getMessage()]
    assert len(recs) == 1 and recs[0].levelname == "WARNING"  # one log line
    msg = recs[0].getMessage()
    assert "holds 0 shares" in msg and "says 149" in msg and "--adopt" in msg


def test_position_resized_by_hand_exit_capped(server: EmulatorServer, tmp_path: Path) -> None:
    """49 of the 149 shares are sold by hand: the breakdown exit sells the 100 left."""
    url = server.url
    admin(url, "config", {"shorting": True})
    hooks = {
        "2026-01-21": lambda: client(url).close_position("BABA", ClosePositionRequest(qty="49"))
    }
    run(settings(url, tmp_path), url, daily_until("2026-02-20"), hooks)
    orders = broker_orders(url)
    assert orders[SELL]["qty"] == 100 and orders[SELL]["filled_qty"] == 100
    assert broker_qty(url) == 0.0
    mismatch = [e for e in events(tmp_path) if e["event"] == "position_mismatch"]
    assert [(e["broker_qty"], e["local_qty"]) for e in mismatch] == [(100.0, 149.0)]


def test_shares_bought_by_hand_halt_new_entries(server: EmulatorServer, tmp_path: Path) -> None:
    """10 shares bought by hand before the breakout: the bot's record (flat) no longer
    matches, so the breakout of 2026-01-13 is refused, naming the mismatch."""
    url = server.url

    def buy_by_hand() -> None:
        req = MarketOrderRequest(
            symbol="BABA", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
        client(url).submit_order(req)

    run(settings(url, tmp_path), url, daily_until("2026-02-20"), {"2026-01-09": buy_by_hand})
    assert BUY not in broker_orders(url)
    assert broker_qty(url) == 10.0
    refused = [
        e
        for e in events(tmp_path)
        if e["event"] == "risk" and e.get("decision") == "reject" and "breakout" in e["what"]
    ]
    assert refused and "position mismatch" in refused[0]["reason"]
    assert "holds 10 shares" in refused[0]["reason"]


# ---------------------------------------------------------------- item 3


def test_exit_missed_while_down_goes_out_late(server: EmulatorServer, tmp_path: Path) -> None:
    """The bot is down from the 2026-01-20 close to the 2026-02-10 close, across the
    breakdown of 2026-02-05. On restart the exit goes out at once, marked late, and
    fills at the next open the broker reaches: 2026-02-11, 164.09."""
    url = server.url
    s = settings(url, tmp_path)
    run(s, url, daily_until("2026-01-20"))
    assert broker_qty(url) == 149.0
    admin(url, "advance", {"until": "2026-02-10T16:00:00-05:00"})  # the market moved on
    run(s, url, daily_until("2026-02-20"))
    orders = broker_orders(url)
    assert orders[SELL]["filled_qty"] == 149
    assert orders[SELL]["filled_avg_price"] == pytest.approx(164.09)
    assert broker_qty(url) == 0.0
    late = [e for e in events(tmp_path) if e["event"] == "late"]
    assert [(e["client_order_id"], e["bar_time"][:10]) for e in late] == [(SELL, "2026-02-05")]


# ---------------------------------------------------------------- item 6

BUSY = {
    "levels": [150.0, 160.0, 170.0, 180.0],
    "use_52w_peak": False,
    "confirm_closes": 1,
    "volume_multiple": 0.0,
    "breakout_buffer_pct": 0.5,
    "breakdown_buffer_pct": 0.5,
}


def test_entry_cancelled_by_hand_does_not_block_later_entries(market: Any, tmp_path: Path) -> None:
    """The first entry is cancelled at the broker before it fills: the next breakout
    must be traded, not refused as "an entry order is already pending"."""
    state = EmulatorState(market, datetime(2024, 12, 31, 21, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        url = srv.url
        s = settings(url, tmp_path, strategy=BUSY)
        s.paper.replay_from = date(2025, 1, 2)
        first: dict[str, str] = {}

        class CancelFirst(HookFeed):
            def before_bar(self, bar: Bar) -> None:
                pending = [
                    o for o in admin(url, "state")["orders"]
                    if o["client_order_id"].endswith("-buy") and o["status"] == "accepted"
                ]  # fmt: skip
                if pending and not first:
                    first["id"] = pending[0]["client_order_id"]
                    first["day"] = ns_to_et(bar.ts).date().isoformat()
                    client(url).cancel_order_by_id(pending[0]["id"])
                super().before_bar(bar)

        api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
        feed = CancelFirst(daily_until("2026-02-20"), EmulatorAdmin(url, keys=(KEY, SECRET)), {})
        PaperRunner(s, api, feed, "emulator", sleep=lambda _: None).run()
        orders = broker_orders(url)
    assert orders[first["id"]]["status"] == "canceled"
    evs = events(tmp_path)
    later = [
        e for e in evs
        if e["event"] == "signal" and e["kind"] == "breakout" and e["bar_time"][:10] >= first["day"]
    ]  # fmt: skip
    assert later, "the data has breakouts after the cancelled entry"
    nxt = later[0]
    want = f"lb-BABA-r{nxt['level'].split('_')[1]}-{nxt['bar_time'][:10].replace('-', '')}T0000-buy"
    assert want in orders and orders[want]["filled_qty"] > 0
    pending = [e for e in evs if "already pending" in str(e.get("reason", ""))]
    assert pending == []


# ---------------------------------------------------------------- item 7

MINUTE = {
    "levels": [178.5],
    "use_52w_peak": False,
    "confirm_closes": 1,
    "volume_multiple": 0.0,
    "breakout_buffer_pct": 0.0,
    "breakdown_buffer_pct": 0.0,
}


def minute_run(market: Any, tmp: Path, stops: list[str], **paper: Any) -> list[str]:
    """Replay the minute file in pieces ending at `stops` (HH:MM ET), restarting the bot
    between them on the same state; returns the client order ids the broker created."""
    start = datetime(2026, 1, 29, 14, 29, tzinfo=UTC)  # 09:29 ET
    state = EmulatorState(market, start, match_timeframe="1m")
    series = load_csv(DATA / "BABA_1m_2026-01-29.csv").bars
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        s = settings(
            srv.url, tmp, strategy=MINUTE, risk={"sizing": "fixed_shares", "fixed_shares": 10},
            paper={"replay_from": date(2026, 1, 29), **paper},
        )  # fmt: skip
        for stop in [*stops, "16:00"]:
            part = series.slice(0, series.index_of(f"2026-01-29T{stop}", "right"))
            run(s, srv.url, part)
        created = list(admin(srv.url, "stats")["orders_created"])
    return created


def test_orders_per_day_count_each_order_once_and_survive_a_restart(
    market: Any, tmp_path: Path
) -> None:
    """max_orders_per_day = 3: buy 09:32 (1), sell 09:50 (2), buy 09:52 (3), sell 09:54
    (4, exits are never capped); the 09:55 breakout is refused. Counting an exit twice
    would refuse the 09:52 buy; a restart after 09:53 must not forget the count."""
    expected = [
        "lb-BABA-r178.5-20260129T0932-buy",
        "lb-BABA-r178.5-20260129T0950-sell",
        "lb-BABA-r178.5-20260129T0952-buy",
        "lb-BABA-r178.5-20260129T0954-sell",
    ]
    whole = minute_run(market, tmp_path / "whole", [], max_orders_per_day=3)
    assert whole == expected
    restarted = minute_run(market, tmp_path / "restarted", ["09:53"], max_orders_per_day=3)
    assert restarted == expected
    refused = [
        e
        for e in events(tmp_path / "restarted")
        if e["event"] == "guard" and "max_orders_per_day" in e["reason"]
    ]
    assert [e["client_order_id"] for e in refused] == ["lb-BABA-r178.5-20260129T0955-buy"]


def test_daily_loss_halt_survives_a_restart(market: Any, tmp_path: Path) -> None:
    """A loss limit of 0.001% (1 USD of 100,000) is passed during the first trade; the
    rest of the session has no entry, also when the bot restarts after the halt."""
    whole = minute_run(market, tmp_path / "whole", [], max_daily_loss_pct=0.001)
    assert whole[0] == "lb-BABA-r178.5-20260129T0932-buy"
    assert not any(cid.endswith("T0952-buy") or cid.endswith("T0955-buy") for cid in whole)
    halts = [e for e in events(tmp_path / "whole") if e["event"] == "guard" and "daily loss" in
             str(e.get("reason"))]  # fmt: skip
    assert halts
    restarted = minute_run(market, tmp_path / "restarted", ["09:51"], max_daily_loss_pct=0.001)
    assert restarted == whole


# ---------------------------------------------------------------- items 4 and 5


def protected_run(
    tmp: Path, risk: dict[str, Any], config: dict[str, Any], alpaca: dict[str, Any] | None = None
) -> tuple[list[tuple[str, float, float, int]], list[dict[str, Any]], dict[str, Any]]:
    """The default replay with protection at the broker, the emulator made strict by
    `config`; real sleeps (the emulator's cancel latency is wall-clock time). Returns
    the bot's fills (side, qty, price, bar ts), its events and the broker's orders."""
    from bot.store.state import StateStore

    state = EmulatorState.from_dir(DATA, START, slippage_bps=0.0)
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        admin(srv.url, "config", config)
        s = settings(srv.url, tmp, risk=risk, alpaca=alpaca or {})
        api = AlpacaApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
        feed = ReplayFeed(
            load_csv(DATA / "BABA_1d.csv").bars, EmulatorAdmin(srv.url, keys=(KEY, SECRET))
        )
        PaperRunner(s, api, feed, "emulator").run()
        orders = broker_orders(srv.url)
    store = StateStore(tmp / "state" / "state.sqlite")
    fills = [(f.side.value, f.qty, round(f.price, 4), f.ts) for f in store.fills()]
    store.close()
    return fills, events(tmp), orders


def backtest_fills(risk: dict[str, Any]) -> list[tuple[str, float, float, int]]:
    from bot.engine.backtest import run_backtest

    s = load_settings(None, {"risk": risk, "broker": {"slippage_bps": 0.0}})
    series = load_csv(DATA / "BABA_1d.csv").bars
    bt = run_backtest(s, series, series.index_of("2025-09-01"))
    return [(f.side.value, f.qty, round(f.price, 4), f.ts) for f in bt.record.fills]


def test_exit_waits_for_the_cancelled_stop_leg(tmp_path: Path) -> None:
    """A stop far below (10 ATR) stays untouched; at the breakdown its cancel is accepted
    at once but the leg sits in pending_cancel for 0.5 s, holding the shares. The sell
    must wait for it, not fail with 403 "insufficient qty" and leave the position
    unprotected: the fills equal the backtest's (buy 149 at 171.57, sell at 160.46)."""
    risk = {"stop_loss": True, "atr_multiple": 10.0}
    fills, evs, orders = protected_run(tmp_path, risk, {"cancel_latency_s": 0.5})
    assert fills == backtest_fills(risk)
    assert [(f[0], f[1], f[2]) for f in fills] == [("buy", 149, 171.57), ("sell", 149, 160.46)]
    legs = [o for cid, o in orders.items() if o.get("parent_id")]
    assert [o["status"] for o in legs] == ["canceled"]
    assert not [e for e in evs if e["event"] == "error"]


def test_exit_refused_while_shares_stay_held_is_loud_and_retried(tmp_path: Path) -> None:
    """The broker holds the cancelled leg's shares for 3 s while the bot waits only
    0.3 s: the exit is refused (403, held for orders). The bot says so in an error event
    (never in silence) and sends the exit again on the next bars until it is placed; the
    position ends closed, with one sell order."""
    risk = {"stop_loss": True, "atr_multiple": 10.0}
    fills, evs, orders = protected_run(
        tmp_path, risk, {"cancel_latency_s": 3.0}, alpaca={"cancel_wait_s": 0.3}
    )
    errors = [e for e in evs if e["event"] == "error" and e.get("where") == "exit"]
    assert errors and SELL in errors[0]["error"]
    assert [e for e in evs if e.get("status") == "exit_retry"]
    assert orders[SELL]["filled_qty"] == 149
    assert [f[0] for f in fills] == ["buy", "sell"]
    assert sum(1 for cid in orders if cid == SELL) == 1


def test_refused_stop_replace_falls_back_to_cancel_and_a_new_stop(tmp_path: Path) -> None:
    """Trailing stop on an OTO entry, and the broker refuses to replace OTO legs (as
    Alpaca documents): the runner must not stop; it cancels the leg and places a new stop
    each time, and ends with the backtest's fills."""
    risk = {"stop_loss": True, "trailing_stop": True, "atr_multiple": 1.0}
    fills, evs, orders = protected_run(tmp_path, risk, {"replace_oto_legs": False})
    assert fills == backtest_fills(risk)
    assert len(fills) >= 2
    refused = [e for e in evs if e.get("status") == "replace_refused"]
    assert refused  # the broker did refuse, and the run went on
    new_stops = [cid for cid in orders if "-sl" in cid]
    assert new_stops and all(orders[c]["type"] == "stop" for c in new_stops)
    assert evs[-1]["event"] == "run_end" and evs[-1]["stopped"] is False


def test_entry_rejected_after_acceptance_does_not_block_later_entries(
    market: Any, tmp_path: Path
) -> None:
    """Alpaca can accept an order and reject it when it routes: the first entry of the
    busy rules is rejected so; the next breakout is traded."""
    state = EmulatorState(market, datetime(2024, 12, 31, 21, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        url = srv.url
        admin(url, "faults", {"reject_next": 1})
        s = settings(url, tmp_path, strategy=BUSY)
        s.paper.replay_from = date(2025, 1, 2)
        run(s, url, daily_until("2026-02-20"))
        orders = broker_orders(url)
    rejected = [cid for cid, o in orders.items() if o["status"] == "rejected"]
    assert len(rejected) == 1 and rejected[0].endswith("-buy")

    def day(cid: str) -> str:
        return cid.split("-")[-2][:8]  # lb-BABA-r150-20250911T0000-buy -> 20250911

    later_buys = [
        cid for cid, o in orders.items()
        if cid.endswith("-buy") and o["filled_qty"] and day(cid) > day(rejected[0])
    ]  # fmt: skip
    assert later_buys  # entries went on after the rejected one
    evs = events(tmp_path)
    assert [e for e in evs if e.get("why") == "entry ended without a fill"]
    assert not [e for e in evs if "already pending" in str(e.get("reason", ""))]
