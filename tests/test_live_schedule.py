"""The live loop of `bot paper --broker alpaca` against the emulator (issue 10, items 10-12):
the real AlpacaFeed, PaperRunner, LiveBroker and alpaca-py, with the emulator's clock
moved fast. Time is virtual: the feed's sleeps add to it, and the broker's clock is
moved to it before each clock read, as a real clock would have moved meanwhile.

By hand from data/BABA_1d.csv: the default rules confirm the breakout at the
2026-01-13 close. Sessions after 2026-02-09: 02-10, 02-11, 02-12, 02-13, (02-16 is
Presidents' Day), 02-17.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bot import lifecycle
from bot.alpaca.marketdata import AlpacaMarketData
from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.config_load import load_settings
from bot.emulator import EmulatorServer, EmulatorState, Faults
from bot.live.feed import AlpacaFeed, FeedTooShort, Timer
from bot.live.retry import Retrier
from bot.live.runner import PaperRunner
from bot.settings import Settings
from strategies import build_strategy

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "emulator-key", "emulator-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}  # /_emulator needs them


def admin(url: str, route: str, body: dict[str, Any] | None = None) -> Any:
    r = (
        requests.post(f"{url}/_emulator/{route}", json=body, timeout=10, headers=ADMIN)
        if body is not None
        else requests.get(f"{url}/_emulator/{route}", timeout=10, headers=ADMIN)
    )
    r.raise_for_status()
    return r.json()


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    state = EmulatorState.from_dir(ROOT / "data", datetime(2026, 2, 10, 17, 0, tzinfo=UTC))
    with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
        yield srv
    lifecycle.reset()


class VirtualTime:
    """Sleeps add to a virtual clock; past `until` the next sleep stops the run, as
    Ctrl-C would. Every sleep and heartbeat is recorded (virtual seconds)."""

    def __init__(self, url: str, start: datetime, until: datetime) -> None:
        self.url = url
        self.t = start.timestamp()
        self.until = until.timestamp()
        self.sleeps: list[float] = []
        self.beats: list[float] = []
        self.first_sleep_stats: dict[str, Any] | None = None

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if self.first_sleep_stats is None:
            self.first_sleep_stats = admin(self.url, "stats")
        self.sleeps.append(seconds)
        self.t += seconds
        if self.t > self.until:
            raise lifecycle.Interrupted()

    def sync_broker(self) -> None:
        now = datetime.fromtimestamp(self.t, UTC).isoformat()
        if datetime.fromisoformat(admin(self.url, "state")["now"].replace("Z", "+00:00")) < (
            datetime.fromtimestamp(self.t, UTC)
        ):
            admin(self.url, "advance", {"until": now})


class FastClockApi(AlpacaApi):
    """The real client; the broker's clock is first moved to the virtual time."""

    vt: VirtualTime

    def clock(self) -> dict[str, Any]:
        self.vt.sync_broker()
        return super().clock()


def live_settings(url: str, tmp: Path, **over: Any) -> Settings:
    tables: dict[str, Any] = {
        "broker": {"slippage_bps": 0.0},
        "alpaca": {"trading_url": url, "data_url": url, "backoff_base_s": 0.001},
        "paper": {
            "state_dir": str(tmp / "state"),
            "log_dir": str(tmp / "logs"),
            "halt_file": str(tmp / "state" / "HALT"),
        },
    }
    for k, v in over.items():
        tables[k] = {**tables.get(k, {}), **v}
    return load_settings(None, tables)


def live_run(s: Settings, url: str, start: datetime, until: datetime) -> VirtualTime:
    vt = VirtualTime(url, start, until)
    api = FastClockApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
    api.vt = vt
    data = AlpacaMarketData(s.alpaca, KEY, SECRET, limiter=api.limiter)
    warmup = max(build_strategy(s.strategy).warmup_bars(), s.risk.atr_period + 1) + 5

    def beat(state: str) -> None:
        vt.beats.append(vt.t)

    feed = AlpacaFeed(
        data,
        api.clock,
        s.symbol,
        warmup,
        Retrier(0.001, 0.01, sleep=vt.sleep),
        settle_s=s.paper.settle_delay_s,
        reread_s=s.paper.reread_s,
        heartbeat=beat,
        heartbeat_s=s.paper.heartbeat_s,
        timer=Timer(vt.monotonic, vt.sleep),
    )
    runner = PaperRunner(s, api, feed, "alpaca (emulated)", sleep=vt.sleep)
    with pytest.raises(lifecycle.Interrupted):
        runner.run()
    return vt


def events(tmp: Path) -> list[dict[str, Any]]:
    lines = (tmp / "logs" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def test_daily_schedule_few_requests_and_a_steady_heartbeat(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Started at 12:00 ET on 2026-02-10, run to 2026-02-18 08:00 ET: it decides once a
    session, on the final bar, after close + settle delay; about 5 requests a session
    (at most 20); the heartbeat never goes 15 s without being written while it waits."""
    url = server.url
    s = live_settings(url, tmp_path)
    start = datetime(2026, 2, 10, 17, 0, tzinfo=UTC)
    vt = live_run(s, url, start, datetime(2026, 2, 18, 13, 0, tzinfo=UTC))
    evs = events(tmp_path)
    bars = [e["bar_time"][:10] for e in evs if e["event"] == "bar"]
    assert bars == ["2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13", "2026-02-17"]
    warm = next(e for e in evs if e["event"] == "warm_up")
    assert warm["last_processed"] is None and warm["bars"] >= 254  # the 52-week peak's year
    # each decision came after its close + 20 min (settle): the bar event's wall time is
    # not virtual, so check through the requests: none of the bars was fetched early
    stats_before = vt.first_sleep_stats
    assert stats_before is not None
    after = admin(url, "stats")
    per_session = (after["requests"] - stats_before["requests"]) / len(bars)
    assert per_session <= 20, after["by_route"]
    assert max(vt.sleeps) <= s.paper.heartbeat_s + 1e-9
    gaps = [b - a for a, b in zip(vt.beats, vt.beats[1:], strict=False)]
    assert gaps and max(gaps) <= s.paper.heartbeat_s + 1e-6


def test_first_live_run_trades_only_bars_closing_after_the_start(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Started on 2026-01-20, after the 2026-01-13 breakout: that signal is history (the
    warm-up), even with a stale limit of 100 intervals, and no replay setting applies:
    no order is sent, the first traded bar is 2026-01-20."""
    url = server.url
    admin(url, "reset", {"now": "2026-01-20T12:00:00-05:00"})
    s = live_settings(url, tmp_path, paper={"stale_after_intervals": 100})
    assert s.paper.replay_from == date(2025, 9, 1)  # set, and ignored by a live run
    live_run(
        s, url, datetime(2026, 1, 20, 17, 0, tzinfo=UTC), datetime(2026, 1, 22, 13, 0, tzinfo=UTC)
    )
    evs = events(tmp_path)
    assert [e["bar_time"][:10] for e in evs if e["event"] == "bar"] == ["2026-01-20", "2026-01-21"]
    assert not [e for e in evs if e["event"] in ("order_intent", "signal")]
    assert admin(url, "stats")["order_posts"] == {}


def test_too_little_history_refuses_to_start(server: EmulatorServer, tmp_path: Path) -> None:
    """On 2015-03-02 BABA had traded since 2014-09-19 (111 sessions by hand from the
    CSV); the default rules need the 52-week peak: 252 sessions + 1 to set the side + 1.
    The run stops before trading, naming both counts."""
    url = server.url
    admin(url, "reset", {"now": "2015-03-02T12:00:00-05:00"})
    s = live_settings(url, tmp_path)
    vt = VirtualTime(url, datetime(2015, 3, 2, 17, 0, tzinfo=UTC), datetime(2015, 3, 3))
    api = FastClockApi(s.alpaca, KEY, SECRET, limiter=RateLimiter(10**9))
    api.vt = vt
    data = AlpacaMarketData(s.alpaca, KEY, SECRET, limiter=api.limiter)
    need = build_strategy(s.strategy).warmup_bars()
    assert need == 254
    feed = AlpacaFeed(data, api.clock, "BABA", need, Retrier(), timer=Timer(vt.monotonic, vt.sleep))
    with pytest.raises(FeedTooShort) as exc:
        PaperRunner(s, api, feed, "alpaca (emulated)").run()
    msg = str(exc.value)
    assert "returned 111 closed daily bar(s) of BABA" in msg and "needs 254" in msg
    assert admin(url, "stats")["order_posts"] == {}


@pytest.mark.parametrize("feed", ["iex", "sip"])
def test_a_final_bar_only_and_a_late_print_revises_it(
    server: EmulatorServer, tmp_path: Path, feed: str
) -> None:
    """Started at 12:00 ET on 2026-02-10: the broker serves that day's bar as it stands
    during the session, and a first version without the late prints for 600 s after the
    close. Reading 590 s after the close and again 30 s later:
    - iex (no delay): the first read is the early version, the re-read the revised bar,
      which wins (a `bar_revised` event for each day);
    - sip on the free plan (15 minutes late): at 590 s the close is not visible yet, so
      the bot waits for it instead of deciding on half a bar.
    Either way every decision is on the CSV's final values."""
    import pandas as pd

    url = server.url
    s = live_settings(
        url,
        tmp_path,
        alpaca={"feed": feed},
        paper={"settle_delay_s": 590.0, "reread_s": 30.0},
    )
    live_run(
        s, url, datetime(2026, 2, 10, 17, 0, tzinfo=UTC), datetime(2026, 2, 12, 13, 0, tzinfo=UTC)
    )
    evs = events(tmp_path)
    bars = [e for e in evs if e["event"] == "bar"]
    assert [b["bar_time"][:10] for b in bars] == ["2026-02-10", "2026-02-11"]
    csv = pd.read_csv(ROOT / "data" / "BABA_1d.csv", index_col="timestamp")
    for b in bars:
        assert b["close"] == pytest.approx(float(csv.loc[b["bar_time"][:10], "close"]))
    revised = [e["day"] for e in evs if e["event"] == "bar_revised"]
    assert revised == (["2026-02-10", "2026-02-11"] if feed == "iex" else [])
