"""Every rule exists once (issue 13 item 3): the users of each shared rule agree.

Each test runs the two (or more) users of one rule on the same input and compares them
with each other and with figures worked out by hand, so that a copy of the rule that
drifts apart from the shared one fails here:
- order matching: SimBroker and the emulator fill one order sequence at the same prices;
- metrics: a backtest report and a sweep give the same figures for one run;
- timeframes: a file's bar length means the same to the loader, the grid check, the
  annualising and the emulator's tracks, and Alpaca's spelling maps onto it;
- client order ids: the brokers' leg ids and the engine's resends come from bot.engine.orderids;
- halt keys: what `bot halt`/`bot resume` save is what status, --fresh and the runner read;
- one bar source per replay: `bot paper --data X` fills on X's prices (in-process
  emulator), and an external emulator whose bars differ from X is refused.
"""

from __future__ import annotations

import csv
import math
import pickle
import statistics
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.broker.sim import SimBroker
from bot.cli.main import app
from bot.config_load import load_settings
from bot.data.calendar import MarketCalendar
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.data.timeframe import DAILY, MINUTE, Timeframe
from bot.emulator import EmulatorState
from bot.emulator.market import Market
from bot.engine.orderids import MAX_LEN, client_order_id, leg_id, next_attempt, restored_stop_id
from bot.live.replay import open_state
from bot.models import ET, Bar, Fill, OrderIntent, OrderType, Side, Trade, et_to_ns, session_day
from bot.report.metrics import FIGURES
from bot.report.runfolder import metrics_from_equity
from bot.report.status import read_status
from bot.settings import BrokerConfig
from bot.store.halts import Halt, saved_halt
from bot.store.state import StateStore
from bot.sweep.metrics import COL, METRIC_KEYS, run_metrics
from tests.test_paper_support import (
    DAILY_CSV,
    DEFAULT_TOML,
    admin,
    bot_env,
    iso_day,
    new_emulator,
    ns_day,
    of_kind,
    read_events,
    run_bot,
    snapshot,
)

# ---------------------------------------------------------------- matching

# Daily bars (open, high, low, close), one a session from Monday 2024-03-04.
DAYS = [
    (date(2024, 3, 4), 100.0, 101.0, 99.0, 100.0),  # history; a bracket is sent at its close
    (date(2024, 3, 5), 100.0, 104.0, 94.0, 97.0),  # entry at the open, its stop in the bar
    (date(2024, 3, 6), 98.0, 99.0, 97.0, 98.0),  # second bracket's entry; legs untouched
    (date(2024, 3, 7), 90.0, 93.0, 89.0, 92.0),  # gap under the stop: filled at the open
    (date(2024, 3, 8), 93.0, 94.0, 90.5, 92.0),  # buy limit 91 reached inside the bar
    (date(2024, 3, 11), 92.0, 96.0, 87.0, 90.0),  # a stop and a limit both reached
    (date(2024, 3, 12), 91.0, 94.0, 90.0, 93.0),  # entry, then its take-profit in the bar
]
SLIP = 5.0  # bps
K = SLIP / 10_000


def _series(rows: list[tuple[date, float, float, float, float]]) -> BarSeries:
    ts = [et_to_ns(datetime.combine(d, time(0), ET)) for d, *_ in rows]
    cols = [np.array([r[i] for r in rows]) for i in range(1, 5)]
    return BarSeries(
        np.array(ts, dtype="int64"),
        *cols,
        np.full(len(rows), 1e6),
        np.array([session_day(d) for d, *_ in rows], dtype="int64"),
        "1d",
        "test",
    )


def _orders_after(day: int) -> list[OrderIntent]:
    """What is sent after each close (ids name the step; both brokers get the same)."""
    buy, sell = Side.BUY, Side.SELL
    plans: dict[int, list[OrderIntent]] = {
        0: [OrderIntent("a", "T", buy, 10, stop_loss=95.0, take_profit=110.0)],
        1: [OrderIntent("b", "T", buy, 10, stop_loss=92.0, take_profit=105.0)],
        3: [OrderIntent("c", "T", buy, 10, OrderType.LIMIT, limit_price=91.0)],
        4: [
            OrderIntent("d", "T", sell, 5, OrderType.LIMIT, limit_price=95.0),
            OrderIntent("e", "T", sell, 5, OrderType.STOP, stop_price=88.0),
        ],
        5: [OrderIntent("f", "T", buy, 10, stop_loss=80.0, take_profit=93.0)],
    }
    return plans.get(day, [])


def _body(it: OrderIntent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": it.symbol,
        "qty": it.qty,
        "side": str(it.side),
        "type": str(it.type),
        "time_in_force": "gtc",
        "client_order_id": it.client_order_id,
    }
    if it.limit_price is not None:
        body["limit_price"] = it.limit_price
    if it.stop_price is not None:
        body["stop_price"] = it.stop_price
    if it.stop_loss is not None:
        body["order_class"] = "bracket"
        body["stop_loss"] = {"stop_price": it.stop_loss}
        body["take_profit"] = {"limit_price": it.take_profit}
    return body


Row = tuple[date, str, str, float, float]  # (session, side, type, qty, price)


def _sim_fills(bars: list[Bar]) -> list[Row]:
    broker = SimBroker(BrokerConfig(slippage_bps=SLIP))
    fills: list[Fill] = []
    for i, bar in enumerate(bars):
        if i:
            fills += broker.on_bar(bar)
        for it in _orders_after(i):
            assert broker.submit(it, bar) == []
    day = {b.ts: d for b, (d, *_) in zip(bars, DAYS, strict=True)}
    kind = {cid: str(o.intent.type) for cid, o in broker.orders.items()}
    return [(day[f.ts], str(f.side), kind[f.client_order_id], f.qty, f.price) for f in fills]


def _emulator_fills(series: BarSeries) -> list[Row]:
    cal = MarketCalendar(date(2024, 2, 1), date(2024, 4, 30))
    closes = [cal.session_hours(d)[1] for d, *_ in DAYS]
    state = EmulatorState(
        Market({"T": {"1d": series}}, cal),
        datetime.fromtimestamp(closes[0] / 1e9, ET),
        slippage_bps=SLIP,
        partial_fill_rate=0.0,
    )
    rows: list[Row] = []
    for i, close in enumerate(closes):
        if i:
            out = state.advance(datetime.fromtimestamp(close / 1e9, ET))
            for f in out["fills"]:
                when = datetime.fromisoformat(f["time"].replace("Z", "+00:00"))
                rows.append(
                    (when.astimezone(ET).date(), f["side"], f["type"], f["qty"], f["price"])
                )
        for it in _orders_after(i):
            state.submit(_body(it))
    return rows


def test_simbroker_and_emulator_fill_the_same_orders_at_the_same_prices() -> None:
    """One order sequence over seven daily bars, both brokers, 5 bps slippage: the same
    fills in the same order at the same prices, and those are the rules' prices."""
    series = _series(DAYS)
    sim = _sim_fills(list(series.iter_bars()))
    emu = _emulator_fills(series)
    d = [day for day, *_ in DAYS]
    by_hand: list[Row] = [
        (d[1], "buy", "market", 10, 100.0 * (1 + K)),  # bracket a: entry at the open
        (d[1], "sell", "stop", 10, 95.0 * (1 - K)),  # its stop, reached later in that bar
        (d[2], "buy", "market", 10, 98.0 * (1 + K)),  # bracket b
        (d[3], "sell", "stop", 10, 90.0 * (1 - K)),  # gap through 92: the open, not 92
        (d[4], "buy", "limit", 10, 91.0),  # a limit fills at its price, no slippage
        # Both reached inside one bar: placement order decides (the limit was sent first).
        (d[5], "sell", "limit", 5, 95.0),
        (d[5], "sell", "stop", 5, 88.0 * (1 - K)),
        (d[6], "buy", "market", 10, 91.0 * (1 + K)),  # bracket f
        (d[6], "sell", "limit", 10, 93.0),  # its take-profit in the entry's bar
    ]
    assert sim == emu
    assert sim == by_hand


# ---------------------------------------------------------------- metrics


def test_report_and_sweep_metrics_are_equal_and_right_on_a_tiny_run() -> None:
    """Four daily bars Mon..Thu; every figure by hand, then both users compared exactly."""
    days = ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"]
    idx = pd.DatetimeIndex(pd.to_datetime(days)).tz_localize(ET)
    equity = np.array([100.0, 120.0, 90.0, 108.0])
    position = np.array([0.0, 5.0, 5.0, 0.0])
    close = np.array([20.0, 24.0, 18.0, 25.0])
    trades = [
        Trade("long", 5.0, 0, 20.0, 1, 24.0, 20.0, 0.0, "r", "in", "out"),
        Trade("long", 5.0, 1, 24.0, 2, 18.0, -30.0, 0.0, "r", "in", "out"),
    ]
    ns = idx.as_unit("ns").asi8
    report = metrics_from_equity(pd.Series(equity, index=idx), trades, position, close, 252, 100)
    row = run_metrics(equity, position, ns, close, trades, 252.0, 100.0)

    r = [0.2, -0.25, 0.2]  # 120/100, 90/120, 108/90
    ann = math.sqrt(252)
    by_hand = {
        "bars": 4,
        "final_equity": 108.0,
        "total_return_pct": 8.0,
        "cagr_pct": (1.08 ** (365.25 / 3) - 1) * 100,
        "volatility_pct": statistics.stdev(r) * ann * 100,
        "sharpe": statistics.mean(r) / statistics.stdev(r) * ann,
        "sortino": statistics.mean(r) / math.sqrt(0.25**2 / 3) * ann,
        "max_drawdown_pct": -25.0,  # 90 / 120
        "max_drawdown_duration_bars": 2,  # from the 120 peak to the last bar, still under
        "max_drawdown_duration_days": 2.0,
        "trades": 2,
        "win_rate_pct": 50.0,
        "profit_factor": 20 / 30,
        "avg_win": 20.0,
        "avg_loss": -30.0,
        "exposure_pct": 50.0,
        "buy_hold_return_pct": 25.0,
        "buy_hold_cagr_pct": (1.25 ** (365.25 / 3) - 1) * 100,
    }
    assert set(FIGURES) == set(by_hand) and METRIC_KEYS[: len(FIGURES)] == FIGURES
    for key, want in by_hand.items():
        assert report[key] == row[COL[key]], key  # one computation: equal to the last bit
        assert report[key] == pytest.approx(want, rel=1e-12), key
    assert row[COL["return_over_max_drawdown"]] == pytest.approx(8.0 / 25.0)


# ---------------------------------------------------------------- one bar source per replay


def _doubled(tmp: Path) -> tuple[Path, Path]:
    """A copy of data/BABA_1d.csv with every price doubled, and the default config with
    its level doubled too, so that the doubled file trades as the real one does."""
    with DAILY_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    path = tmp / "BABA_1d.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        for r in rows[1:]:
            out.writerow(
                [f"{float(v) * 2:.4f}" if k in ("open", "high", "low", "close") else v
                 for k, v in zip(head, r, strict=True)]
            )  # fmt: skip
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    assert "levels = [163.43]" in text
    config = tmp / "doubled.toml"
    config.write_text(text.replace("levels = [163.43]", "levels = [326.86]"), encoding="utf-8")
    return path, config


@pytest.mark.slow  # the real `bot paper` in a subprocess
def test_paper_with_data_fills_at_that_files_prices(tmp_path: Path) -> None:
    """`bot paper --fresh --data X` (in-process emulator): every market order fills at the
    open of X's bar after its signal bar, 5 bps worse; before the fix the emulator filled
    from its own data folder (the real, half prices)."""
    data, config = _doubled(tmp_path)
    env = bot_env(tmp_path / "logs", BOT_CONFIG=str(config))
    state = tmp_path / "state"
    out = run_bot(["paper", "--fresh", "--data", data, "--state-dir", state], env)
    assert out.returncode == 0, out.stdout + out.stderr
    # Independently of the bot: the doubled file's opens by day, the next day after each.
    with data.open(encoding="utf-8") as fh:
        rows = [(date.fromisoformat(r["timestamp"]), float(r["open"])) for r in csv.DictReader(fh)]
    after = {rows[i][0]: rows[i + 1] for i in range(len(rows) - 1)}
    slip = 5 / 10_000
    intents = {
        e["client_order_id"]: e for e in of_kind(read_events(tmp_path / "logs"), "order_intent")
    }
    fills = snapshot(state).fills
    assert [f[0] for f in fills] == list(intents) and len(fills) == 2  # a buy, then a sell
    for cid, side, _qty, price, ts in fills:
        day, open_ = after[iso_day(intents[cid]["signal_time"])]
        assert ns_day(ts) == day
        want = open_ * (1 + slip) if side == "buy" else open_ * (1 - slip)
        assert price == pytest.approx(want, abs=1e-6), (cid, price, want)
    assert fills[0][3] == pytest.approx(2 * 171.57 * (1 + slip), abs=1e-6)  # 2026-01-14


@pytest.mark.slow  # the real `bot paper` in a subprocess
def test_an_emulator_with_other_bars_than_the_replay_is_refused(tmp_path: Path) -> None:
    """An external emulator fills on its own files (data/): replaying the doubled file
    against it is refused before any order, with the reason; its own file is accepted."""
    data, config = _doubled(tmp_path)
    env = bot_env(tmp_path / "logs", BOT_CONFIG=str(config))
    with new_emulator() as emulator:
        base = ["paper", "--emulator-url", emulator.url, "--from", "2026-01-02"]
        out = run_bot([*base, "--data", data, "--state-dir", tmp_path / "a"], env)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "has other BABA bars from 2014-09-19 to 2026-02-20" in out.stdout + out.stderr
        assert admin(emulator.url, "stats")["order_posts"] == {}
        ok = run_bot([*base, "--data", DAILY_CSV, "--state-dir", tmp_path / "b"], env)
        assert ok.returncode == 0, ok.stdout + ok.stderr


# ---------------------------------------------------------------- timeframes


def test_a_five_minute_file_means_five_minutes_to_every_user(tmp_path: Path) -> None:
    """Twelve 5-minute bars and one off the grid (09:31): detected as "5m", the stray row
    refused by the grid rule, 78 bars a session for annualising, and the emulator, which
    has only this timeframe for the symbol, matches on it with 5-minute bar spans."""
    lines = ["timestamp,open,high,low,close,volume"]
    for k in range(12):
        lines.append(
            f"2024-03-04 {9 + (30 + 5 * k) // 60:02d}:{(30 + 5 * k) % 60:02d},10,11,9,10,100"
        )
    lines.append("2024-03-04 09:31,10,11,9,10,100")
    path = tmp_path / "T_5m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_csv(path)
    tf = loaded.bars.timeframe
    assert isinstance(tf, Timeframe) and tf == "5m" and not tf.daily and tf.minutes == 5
    assert [r.reason for r in loaded.rejected] == ["not on the 5m bar grid"]
    assert loaded.bars.interval_ns == 5 * 60 * 10**9
    assert tf.periods_per_year == 252 * 78 and DAILY.periods_per_year == 252
    now = datetime(2024, 3, 4, 9, 0, tzinfo=ET)
    track = EmulatorState.from_series({"T": loaded.bars}, now).track("T")
    assert track.bars.timeframe == "5m" and len(track.starts) == 12
    assert {e - s for s, e in zip(track.starts, track.ends, strict=True)} == {5 * 60 * 10**9}


def test_timeframe_text_is_parsed_once_and_refused_when_wrong() -> None:
    assert Timeframe.from_alpaca("1Day") is DAILY and Timeframe.from_alpaca("1D") is DAILY
    assert Timeframe.from_alpaca("1Min") == MINUTE == Timeframe.from_alpaca("1T")
    assert Timeframe.from_alpaca("5Min") == "5m" and Timeframe.from_alpaca("1Hour") is None
    for bad in ("5x", "0m", "0h", "2d", "1.5h", ""):
        with pytest.raises(ValueError, match="not a timeframe"):
            Timeframe(bad)
    # Hours are minutes, one spelling: "1h" is "60m" everywhere (files, metrics, compare).
    hour = Timeframe("1h")
    assert hour == "60m" and hour.minutes == 60 and not hour.daily
    assert Timeframe("2h") == Timeframe("120m")
    columns = [np.zeros(1)] * 7
    with pytest.raises(ValueError, match="not a timeframe"):  # a series built from text
        BarSeries(*columns, "1w")  # type: ignore[arg-type]
    five = pickle.loads(pickle.dumps(Timeframe("5m")))  # as sweep workers receive it
    assert isinstance(five, Timeframe) and five.minutes == 5 and five.interval_ns == 300 * 10**9


# ---------------------------------------------------------------- client order ids


def test_order_ids_come_from_one_builder() -> None:
    ts = et_to_ns(datetime(2026, 1, 13, tzinfo=ET))
    cid = client_order_id("lb", "BABA", "r163.43", ts, "buy")
    assert cid == "lb-BABA-r163.43-20260113T0000-buy"  # the README's scheme
    broker = SimBroker(BrokerConfig())
    bar = Bar(ts, 170.0, 171.0, 169.0, 170.0, 1e6, 0)
    broker.submit(OrderIntent(cid, "BABA", Side.BUY, 1, stop_loss=160.0, take_profit=190.0), bar)
    assert set(broker.orders) == {cid, leg_id(cid, "sl"), leg_id(cid, "tp")}
    assert leg_id(cid, "sl") == f"{cid}-sl"
    assert restored_stop_id(cid, ts) == f"{cid}-rs20260113T0000"
    assert next_attempt(cid) == f"{cid}-x1" and next_attempt(f"{cid}-x1") == f"{cid}-x2"
    # At Alpaca's 128-character limit the base is cut, never the suffix: ids stay apart.
    long = client_order_id("lb", "BABA", "t" * 200, ts, "buy")
    ids = {long, leg_id(long, "sl"), leg_id(long, "tp"), next_attempt(long)}
    assert len(long) == MAX_LEN and len(ids) == 4 and all(len(i) <= MAX_LEN for i in ids)


# ---------------------------------------------------------------- halt keys


def test_what_bot_halt_saves_is_what_every_reader_sees(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["--config", str(DEFAULT_TOML), "--state-dir", str(state)]
    settings = load_settings(DEFAULT_TOML, {"paper": {"state_dir": str(state)}})
    cli = CliRunner()
    out = cli.invoke(app, ["halt", *args, "--reason", "earnings", "--flatten"])
    assert out.exit_code == 0, out.output
    store = open_state(state)
    assert store is not None
    assert saved_halt(store) == Halt("earnings", flatten=True)  # the runner's and --fresh's
    store.close()
    assert read_status(settings).halted == "earnings"
    assert cli.invoke(app, ["resume", *args]).exit_code == 0
    store = StateStore(state / "state.sqlite")
    assert saved_halt(store) is None
    store.close()
    assert read_status(settings).halted is None
