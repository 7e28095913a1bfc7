"""The live path end to end (issue 11, item 11): the live feed, the live broker and the
trade-updates stream of `bot paper --broker alpaca`, against the strict emulator (its
defaults: pending cancels, partial fills, bracket groups, rate limit, free plan), with
the emulator's clock moved fast across three months of sessions: Thanksgiving (a
holiday), the early closes of 2025-11-28 and 2025-12-24, the January breakout and a
protective stop that fills during a session.

Time is virtual: the bot's waits add to it, the broker's clock follows it every 30
minutes (so a stop hit at the open is pushed while the bot waits for the close). The
expectation is the backtest of the same bars (SimBroker, no partial fills): the same
signals and the same orders, in the same order; partial fills may split a quantity, so
fills are compared per order as total quantity and average price.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bot import lifecycle
from bot.alpaca.marketdata import AlpacaMarketData
from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.engine.backtest import run_backtest
from bot.live.feed import AlpacaFeed, Timer
from bot.live.retry import Retrier
from bot.live.runner import PaperRunner
from bot.settings import Settings
from strategies import build_strategy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "emulator-key", "emulator-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
START = datetime(2025, 11, 20, 17, 0, tzinfo=UTC)  # 12:00 ET
END = datetime(2026, 2, 21, 1, 0, tzinfo=UTC)  # after the 2026-02-20 close and settle
RISK = {"stop_loss": True, "atr_multiple": 1.0}  # a tight stop: hit before the breakdown


def admin(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    r = (
        requests.post(f"{url}/_emulator/{route}", json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(f"{url}/_emulator/{route}", timeout=10, headers=ADMIN)
    )
    r.raise_for_status()
    return r.json()


class FastClock:
    """Virtual time: sleeps add to it; the broker follows every `step_s` of it."""

    def __init__(self, url: str, step_s: float = 3 * 3600.0) -> None:
        self.url, self.step = url, step_s
        self.t = START.timestamp()
        self.synced = self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        if self.t > END.timestamp():
            raise lifecycle.Interrupted()
        if self.t - self.synced >= self.step:
            self.sync()
            time.sleep(0.01)  # let the pushed events arrive, as they would during the wait

    def sync(self) -> None:
        if self.t > self.synced:
            admin(self.url, "advance", {"until": datetime.fromtimestamp(self.t, UTC).isoformat()})
            self.synced = self.t


class FastClockApi(AlpacaApi):
    clock_owner: FastClock

    def clock(self) -> dict[str, Any]:
        self.clock_owner.sync()
        return super().clock()


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    state = EmulatorState.from_dir(ROOT / "data", START, slippage_bps=0.0)
    with EmulatorServer(state, Faults(seed=5), api_key=KEY, secret_key=SECRET) as srv:
        yield srv
    lifecycle.reset()


def settings(url: str, tmp: Path, risk: dict[str, Any] | None = None) -> Settings:
    return load_settings(
        None,
        {
            "risk": RISK if risk is None else risk,
            "broker": {"slippage_bps": 0.0},
            "alpaca": {
                "trading_url": url,
                "data_url": url,
                "backoff_base_s": 0.01,
                "backoff_cap_s": 0.5,
                "read_timeout_s": 2.0,
            },
            "paper": {
                "state_dir": str(tmp / "state"),
                "log_dir": str(tmp / "logs"),
                "halt_file": str(tmp / "state" / "HALT"),
                "heartbeat_s": 60.0,  # fewer virtual wait steps; the length is not the point
            },
        },
    )


def live(url: str, tmp: Path, risk: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    s = settings(url, tmp, risk)
    fc = FastClock(url)
    # The emulator enforces Alpaca's limit on its own clock; months go by in seconds here.
    api = FastClockApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
    api.clock_owner = fc
    data = AlpacaMarketData(s.alpaca, KEY, SECRET, limiter=api.limiter)
    warmup = max(build_strategy(s.strategy).warmup_bars(), s.risk.atr_period + 1) + 5
    feed = AlpacaFeed(
        data, api.clock, s.symbol, warmup, Retrier(0.01, 0.5, sleep=fc.sleep),
        settle_s=s.paper.settle_delay_s,
        reread_s=s.paper.reread_s, heartbeat_s=s.paper.heartbeat_s,
        timer=Timer(fc.monotonic, fc.sleep),
    )  # fmt: skip
    with pytest.raises(lifecycle.Interrupted):
        PaperRunner(s, api, feed, "alpaca (emulated)", sleep=fc.sleep).run()
    lines = (tmp / "logs" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def backtest(risk: dict[str, Any] | None = None) -> Any:
    s = load_settings(
        None, {"risk": RISK if risk is None else risk, "broker": {"slippage_bps": 0.0}}
    )
    series = load_csv(ROOT / "data" / "BABA_1d.csv").bars
    return run_backtest(s, series, series.index_of("2025-11-20"))


def per_order(fills: list[tuple[str, float, float]]) -> dict[str, tuple[float, float]]:
    """(side/purpose key) -> (total qty, average price)."""
    qty: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    for key, q, p in fills:
        qty[key] += q
        cost[key] += q * p
    return {k: (qty[k], round(cost[k] / qty[k], 4)) for k in qty}


def check_against_backtest(evs: list[dict[str, Any]]) -> None:
    bt = backtest()
    bars = [e["bar_time"][:10] for e in evs if e["event"] == "bar"]
    assert bars[0] == "2025-11-20" and bars[-1] == "2026-02-20"
    assert "2025-11-27" not in bars and "2025-12-25" not in bars  # holidays
    assert {"2025-11-28", "2025-12-24"} <= set(bars)  # early closes decided on too
    assert len(bars) == len(bt.bars)
    live_signals = [
        (e["bar_time"][:10], e["kind"], e["level"]) for e in evs if e["event"] == "signal"
    ]
    bt_signals = [(s.time.date().isoformat(), str(s.kind), s.level) for s in bt.record.signals]
    assert live_signals == bt_signals
    live_orders = [e["client_order_id"] for e in evs if e["event"] == "order_intent"]
    assert live_orders == [i.client_order_id for i in bt.record.intents]
    live_fills = [
        (f"{e['side']}:{'stop' if e['client_order_id'] not in live_orders else 'order'}",
         e["qty"], e["price"])
        for e in evs if e["event"] == "fill"
    ]  # fmt: skip
    bt_fills = [
        (f"{f.side}:{'stop' if f.purpose == 'stop' else 'order'}", f.qty, f.price)
        for f in bt.record.fills
    ]
    assert per_order(live_fills) == per_order(bt_fills)


def test_live_path_end_to_end_matches_the_backtest(server: EmulatorServer, tmp_path: Path) -> None:
    evs = live(server.url, tmp_path)
    check_against_backtest(evs)
    # the stop was booked from the pushed event during its session, before that
    # session's bar was decided on
    stop_fill = next(i for i, e in enumerate(evs) if e["event"] == "fill" and e["side"] == "sell")
    day = evs[stop_fill]["bar_time"][:10]
    bar_of_day = next(
        i for i, e in enumerate(evs) if e["event"] == "bar" and e["bar_time"][:10] == day
    )
    assert stop_fill < bar_of_day
    assert [e for e in evs if e["event"] == "stream" and e["status"] == "connected"]


def test_live_path_with_30_percent_errors(server: EmulatorServer, tmp_path: Path) -> None:
    admin(server.url, "faults", {"error_rate": 0.3, "error_codes": [500, 502, 503], "seed": 9})
    evs = live(server.url, tmp_path)
    admin(server.url, "faults", {"error_rate": 0.0})
    check_against_backtest(evs)
    assert len([e for e in evs if e["event"] == "retry"]) >= 20


def test_live_path_with_a_60s_stream_outage(server: EmulatorServer, tmp_path: Path) -> None:
    """The stream goes silent for 60 s from the start: the fills it does not push are
    found over REST; the state ends as in the fault-free run, no fill twice."""
    admin(server.url, "stream", {"silent": 60})
    evs = live(server.url, tmp_path)
    check_against_backtest(evs)
    ids = [(e["client_order_id"], e["qty"], e["price"]) for e in evs if e["event"] == "fill"]
    assert len(ids) == len(set(ids))


def test_partial_fills_change_quantities_not_decisions(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Every fill partial (the emulator's rate 1.0; with daily bars the rest of a DAY
    order expires at the close): the buy fills only in part, and the exit sells what
    was bought in parts over several sessions, each rest sent again under the next
    `-xN` id. The signals and decisions are the backtest's, each part fills at the open
    of its session (read from the CSV), and the account ends flat."""
    import pandas as pd

    admin(server.url, "config", {"partial_fill_rate": 1.0, "partial_fill_seed": 3})
    evs = live(server.url, tmp_path, risk={})
    bt = backtest(risk={})
    signals = [(e["bar_time"][:10], e["kind"]) for e in evs if e["event"] == "signal"]
    assert signals == [(s.time.date().isoformat(), str(s.kind)) for s in bt.record.signals]
    orders = [e["client_order_id"] for e in evs if e["event"] == "order_intent"]
    decisions = [o for o in orders if not re.search(r"-x\d+$", o)]
    assert decisions == [i.client_order_id for i in bt.record.intents]
    rests = [o for o in orders if o not in decisions]
    exit_id = decisions[-1]
    assert rests == [f"{exit_id}-x{k}" for k in range(1, len(rests) + 1)]
    fills = [e for e in evs if e["event"] == "fill"]
    opens = pd.read_csv(ROOT / "data" / "BABA_1d.csv", index_col="timestamp")["open"]
    assert len(fills) > 2  # the orders did fill in parts
    for f in fills:
        assert f["price"] == pytest.approx(float(opens[f["bar_time"][:10]]))
    bought = sum(f["qty"] for f in fills if f["side"] == "buy")
    sold = sum(f["qty"] for f in fills if f["side"] == "sell")
    assert 0 < bought <= 149 and sold == bought
    assert admin(server.url, "state")["positions"] == []
