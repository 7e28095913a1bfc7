"""Typed events and their sinks (issue 13 item 4).

tests/fixtures/events_before.jsonl holds lines written before the types existed: the
whole `bot paper --fresh` replay of the tests' base config (its first run id), then one
line of each other variant, taken from the events.jsonl files the live tests left (a
retry, a stream connect, a revised bar, an interrupted run, refusals, guards, orders in
doubt, replaced and cancelled). The types must write them again key for key and value
for value; only `time`, `run_id` and what differs between any two runs (the emulator's
port, its order ids, the state folder, the config hash of other paths) may differ.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot import events as ev
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.engine.backtest import build_engine, run_backtest, run_folder_events
from bot.engine.scan import scan
from bot.events.journal import EVENTS, Journal
from bot.events.outputs import JournalSink
from bot.events.sinks import Publisher, QueuedSink, Recorder
from bot.live.paper import PaperOptions, run_paper
from bot.models import Bar
from bot.settings import Settings
from strategies import build_strategy
from tests.conftest import DAILY_CSV, DEFAULT_TOML
from tests.test_sma_cross import sma_toml

BEFORE = Path(__file__).parent / "fixtures" / "events_before.jsonl"
_STAMP = ("time", "run_id", "event")
# What the old run printed and wrote to bot.log for its decisions (bot.live.runner lines).
CONSOLE_BEFORE = [
    "RECONCILE broker_qty=0.0 local_qty=0.0",
    "2026-01-13 SIGNAL breakout resistance_163.43 (163.43): 2 closes above 163.43 +1% "
    "(166.31, 167.01), volume 1.7x the 20-bar mean",
    "2026-01-13 ORDER  buy 149 BABA (entry), client order id lb-BABA-r163.43-20260113T0000-buy",
    "2026-01-14 FILL   buy 149 @ 171.66 (lb-BABA-r163.43-20260113T0000-buy)",
    "2026-02-05 SIGNAL breakdown resistance_163.43 (163.43): 2 closes below 163.43 -1% "
    "(159.14, 157.76)",
    "2026-02-05 ORDER  sell 149 BABA (exit), client order id lb-BABA-r163.43-20260205T0000-sell",
    "2026-02-06 FILL   sell 149 @ 160.38 (lb-BABA-r163.43-20260205T0000-sell)",
    "TRADE  long 149: 2026-01-14 @ 171.66 -> 2026-02-06 @ 160.38, P&L -1,680.13",
]


def before() -> list[dict[str, Any]]:
    return [json.loads(line) for line in BEFORE.read_text(encoding="utf-8").splitlines()]


def fields_of(line: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in line.items() if k not in _STAMP}


def rebuild(line: dict[str, Any]) -> ev.Event:
    """The typed event of a recorded line, from its fields alone."""
    kind, f = line["event"], fields_of(line)
    if kind == "signal":
        keys = list(f)
        inner = keys[keys.index("kind") + 1 : keys.index("reason")]
        return ev.Signal(
            bar_time=f["bar_time"], ts=f["ts"], signal_kind=f["kind"],
            details=tuple((k, f[k]) for k in inner), reason=f["reason"],
            strategy=f["strategy"], tag=f["tag"], label=f["label"],
        )  # fmt: skip
    if kind == "risk":
        risk = ev.RiskApproved if f.pop("decision") == "approve" else ev.RiskRejected
        return risk(**f)
    if kind == "error":
        return ev.OrderRefused(**f) if "http" in f else ev.Error(**f)
    if kind == "reconcile":
        return ev.Reconcile(**{**f, "notes": tuple(f["notes"])})
    if kind == "bar_revised":
        return ev.BarRevised(day=f["day"], first=Bar(*f["first"]), final=Bar(*f["final"]))
    (cls,) = [t for t in ev.EVENT_TYPES if t.kind == kind]
    return cls(**f)


def journal_lines(tmp_path: Path, events: list[ev.Event]) -> list[str]:
    journal = Journal(tmp_path / "events.jsonl")
    for e in events:
        journal.write(e)
    journal.flush()
    return (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()


def after_stamp(line: str) -> str:
    """The text of a line after its time and run id: the kind and fields, byte for byte."""
    return line.split(',"event":', 1)[1]


# ---------------------------------------------------------------- the lines of before


def test_every_recorded_line_is_written_again_byte_for_byte(tmp_path: Path) -> None:
    text = BEFORE.read_text(encoding="utf-8").splitlines()
    written = journal_lines(tmp_path, [rebuild(json.loads(line)) for line in text])
    assert [after_stamp(w) for w in written] == [after_stamp(t) for t in text]


def test_the_recorded_lines_cover_every_kind_but_halt() -> None:
    # the watcher's kinds (bot/events/watch.py) came after the recording
    watcher = {"alert", "data_stream", "catch_up", "watch_session"}
    assert {line["event"] for line in before()} == set(EVENTS) - {"halt"} - watcher
    assert set(EVENTS) == {t.kind for t in ev.EVENT_TYPES}


@pytest.mark.parametrize(
    ("event", "line"),
    [  # variants no run left, as the keyword calls they replaced wrote them
        (ev.Halt(reason="halt file state/HALT"), '"halt","reason":"halt file state/HALT"'),
        (ev.Stream(status="down", fallback="REST every 60.0 s"),
         '"stream","status":"down","fallback":"REST every 60.0 s"'),
        (ev.PositionMismatch(symbol="BABA", broker_qty=149.0, local_qty=149.0, resolved=True),
         '"position_mismatch","symbol":"BABA","broker_qty":149.0,"local_qty":149.0,"resolved":true'),
        (ev.Error(where="feed", error="no bar of BABA for 2026-02-10"),
         '"error","where":"feed","error":"no bar of BABA for 2026-02-10"'),
        (ev.Order(client_order_id="x", status="replace_deferred", broker_status="held", error="e"),
         '"order","client_order_id":"x","status":"replace_deferred","broker_status":"held","error":"e"'),
        (ev.WarmUp(bars=2, last_processed="2026-01-13T00:00:00-05:00"),
         '"warm_up","bars":2,"last_processed":"2026-01-13T00:00:00-05:00"'),
        (ev.OrderRefused(client_order_id="x", http=422, code=None, message="m"),
         '"error","client_order_id":"x","http":422,"code":null,"message":"m"'),
    ],
)  # fmt: skip
def test_variants_write_the_keys_their_calls_wrote(
    tmp_path: Path, event: ev.Event, line: str
) -> None:
    (written,) = journal_lines(tmp_path, [event])
    assert after_stamp(written) == line + "}"


# ---------------------------------------------------------------- a paper replay


def base_settings(tmp: Path) -> Settings:
    return load_settings(
        DEFAULT_TOML,
        {"paper": {
            "state_dir": str(tmp / "state"), "log_dir": str(tmp / "logs"),
            "halt_file": str(tmp / "state" / "HALT"), "replay_data": str(DAILY_CSV),
        }},
    )  # fmt: skip


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """`bot paper --fresh` in this process (the in-process emulator over HTTP): its
    folder and what it printed."""
    tmp = tmp_path_factory.mktemp("replay")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    try:
        console = Console(file=out, width=400)  # no wrapping: one line a decision
        code = run_paper(base_settings(tmp), PaperOptions(fresh=True), console)
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
    assert code == 0, out.getvalue()
    yield tmp, out.getvalue()


def normal(line: dict[str, Any]) -> dict[str, Any]:
    """A line without what differs between any two runs."""
    f = fields_of(line)
    if line["event"] == "run_start":
        assert re.fullmatch(r"[0-9a-f]{16}", f.pop("config_hash"))
        assert f.pop("state_dir").endswith("state")
        f["broker"] = re.sub(r":\d+$", ":PORT", f["broker"])
    if "broker_id" in f:
        f["broker_id"] = "ID"
    return {"event": line["event"], **f}


# Events of one symbol's trading: since issue 13 item 5 their lines say the symbol, a
# key the recorded lines do not have (an order intent had it already).
SYMBOL_KINDS = {t.kind for t in ev.EVENT_TYPES if issubclass(t, ev.SymbolEvent)}


def without_symbol(line: dict[str, Any]) -> dict[str, Any]:
    """A new line as it was before symbols: the `symbol` key, and only it, taken out
    of the lines of symbol events (where it must be the run's)."""
    if line["event"] not in SYMBOL_KINDS:
        return line
    assert line["symbol"] == "BABA", line
    return {k: v for k, v in line.items() if k != "symbol"}


def test_a_replay_writes_what_it_wrote_before(replay: tuple[Path, str]) -> None:
    tmp, printed = replay
    lines = (tmp / "logs" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    old = [x for x in before() if x["run_id"] == before()[0]["run_id"]]
    new = [without_symbol(json.loads(x)) for x in lines]
    assert [list(x) for x in new] == [list(x) for x in old]  # keys, in order
    assert [normal(x) for x in new] == [normal(x) for x in old]
    assert len({x["run_id"] for x in new}) == 1
    # The same lines on the console and in bot.log, from the queued console sink.
    shown = [x for x in printed.splitlines() if x in CONSOLE_BEFORE]
    assert shown == CONSOLE_BEFORE
    log = (tmp / "logs" / "bot.log").read_text(encoding="utf-8")
    assert [x.split("bot.runner: ", 1)[1] for x in log.splitlines() if "bot.runner: " in x] == (
        CONSOLE_BEFORE
    )


def test_the_state_keeps_each_signal_as_before(replay: tuple[Path, str]) -> None:
    from bot.store.state import StateStore

    store = StateStore(replay[0] / "state" / "state.sqlite")
    rows = store.signals()
    store.close()
    first = before()[0]["run_id"]
    old = [fields_of(x) for x in before() if x["run_id"] == first and x["event"] == "signal"]
    assert [r.pop("symbol") for r in rows] == ["BABA"] * len(old)  # the one key added
    assert rows == [{("time" if k == "bar_time" else k): v for k, v in x.items()} for x in old]


DECISIONS = ("signal", "risk", "order_intent", "fill", "trade")


def daily_range(s: Settings) -> tuple[BarSeries, int, int]:
    series = load_csv(DAILY_CSV).bars
    assert s.paper.replay_from is not None and s.paper.replay_to is not None
    lo = series.index_of(s.paper.replay_from.isoformat())
    hi = series.index_of(f"{s.paper.replay_to.isoformat()}T23:59:59", "right")
    return series, lo, hi


def test_backtest_publishes_the_decisions_paper_publishes(
    replay: tuple[Path, str], tmp_path: Path
) -> None:
    s = base_settings(tmp_path)
    series, lo, hi = daily_range(s)
    rec = Recorder()
    run_backtest(s, series, lo, hi, events=Publisher([rec]))
    backtest = [{"event": e.kind, **e.as_dict()} for e in rec.events if e.kind in DECISIONS]
    lines = (replay[0] / "logs" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    paper = [normal(x) for x in map(json.loads, lines) if x["event"] in DECISIONS]
    assert [x["event"] for x in paper] == ["signal", "risk", "order_intent", "fill"] * 2 + ["trade"]
    assert backtest == paper
    assert isinstance(rec.events[0], ev.RunStart) and rec.events[0].broker == "sim"
    end = rec.events[-1]
    assert isinstance(end, ev.RunEnd) and (end.bars, end.position) == (hi - lo, 0.0)


def test_signals_publishes_the_signal_events_of_a_backtest(tmp_path: Path) -> None:
    s = base_settings(tmp_path)
    series, lo, hi = daily_range(s)
    scanned, traded = Recorder(), Recorder()
    scan(build_strategy(s.strategy), series, lo, hi, events=Publisher([scanned]))
    run_backtest(s, series, lo, hi, events=Publisher([traded]))
    signals = [e for e in traded.events if isinstance(e, ev.Signal)]
    assert scanned.events == signals and len(signals) == 2


def test_backtest_journal_goes_to_its_run_folder(tmp_path: Path) -> None:
    s = base_settings(tmp_path)
    series, lo, hi = daily_range(s)
    events = run_folder_events(tmp_path / "run")
    rec = Recorder()
    events.sinks.append(rec)
    run_backtest(s, series, lo, hi, events=events)
    events.close()
    lines = (tmp_path / "run" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert [after_stamp(x) for x in lines] == [
        after_stamp(x) for x in journal_lines(tmp_path, rec.events)
    ]
    assert not (tmp_path / "logs").exists()  # `bot logs` shows paper runs only


# ---------------------------------------------------------------- sinks


class Slow:
    """Sleeps 50 ms an event; with `gate`, its first event waits until the gate opens."""

    name = "slow"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.events: list[ev.Event] = []
        self.gate = gate
        self.opened: bool | None = None
        self.closed = False

    def handle(self, event: ev.Event) -> None:
        if self.gate is not None and self.opened is None:
            self.opened = self.gate.wait(timeout=30)
        time.sleep(0.05)
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


def sma_backtest_engine(tmp_path: Path, events: Publisher) -> tuple[Any, BarSeries]:
    """Some 30 events: the moving-average cross, long and short, over 300 daily bars."""
    s = load_settings(sma_toml(tmp_path), {"risk": {"allow_short": True}})
    return build_engine(s, events), load_csv(DAILY_CSV).bars.slice(0, 300)


def test_a_slow_sink_never_holds_the_bar_loop_back(tmp_path: Path) -> None:
    loop_done = threading.Event()
    slow, fast = Slow(loop_done), Recorder()
    queued = QueuedSink(slow, maxsize=100_000)
    events = Publisher([queued, fast])
    engine, series = sma_backtest_engine(tmp_path, events)
    for bar in series.iter_bars():
        engine.step(bar)
    # The whole loop ran while the slow sink sat on its first event: all are queued.
    assert len(fast.events) >= 20
    assert slow.events == [] and queued.pending() == len(fast.events)
    loop_done.set()
    events.publish(ev.RunEnd(bars=len(series), stopped=False))  # waits for the queue
    assert queued.pending() == 0 and len(slow.events) == len(fast.events)
    events.close()
    assert slow.opened is True  # the loop ended while the sink was still waiting
    assert slow.events == fast.events and slow.closed and queued.dropped == 0


def test_a_full_queue_drops_and_counts_instead_of_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = threading.Event()
    slow = Slow(gate)
    queued = QueuedSink(slow, maxsize=2)
    for n in range(10):
        queued.handle(ev.Halt(reason=str(n)))
    gate.set()
    queued.close()
    assert queued.dropped >= 7 and len(slow.events) + queued.dropped == 10
    kept = [int(e.reason) for e in slow.events if isinstance(e, ev.Halt)]
    assert kept == sorted(kept) and kept[0] == 0  # in order, the first one taken
    said = [r.getMessage() for r in caplog.records if r.name == "bot.sinks"]
    assert len([m for m in said if "queue full" in m]) == 1
    assert any(f"dropped {queued.dropped} event(s)" in m for m in said)


class Failing:
    name = "flaky"

    def handle(self, event: ev.Event) -> None:
        raise OSError("disk gone")

    def close(self) -> None:
        return None


@pytest.mark.parametrize("queued", [False, True])
def test_a_failing_sink_is_logged_once_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, queued: bool
) -> None:
    fast = Recorder()
    failing: Any = QueuedSink(Failing(), 1000) if queued else Failing()
    events = Publisher([failing, fast, JournalSink(Journal(tmp_path / "events.jsonl"))])
    engine, series = sma_backtest_engine(tmp_path, events)
    for bar in series.iter_bars():
        engine.step(bar)
    events.close()
    assert len(fast.events) >= 20 and engine.portfolio.trades
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(fast.events)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "flaky failed (OSError: disk gone)" in errors[0].getMessage()
    counted = [r.getMessage() for r in caplog.records if "times in this run" in r.getMessage()]
    assert counted == [f"event sink flaky failed {len(fast.events)} times in this run"]
