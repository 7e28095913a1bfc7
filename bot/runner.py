"""`bot paper`: the paper-trading runner around the one engine.

Crash-only start, the same path every time:
1. take the state directory's lock (a second runner exits at once, sending nothing);
2. open the SQLite state (a damaged file stops the run, naming it);
3. check the broker keys with one account call;
4. rebuild the engine: recorded fills -> position and cash; bars up to the last
   processed one (or up to `replay_from` on a first run) -> indicators and levels,
   with no signal acted on during this warm-up;
5. reconcile with the broker (settle every order in doubt, refuse unexplained orders
   or positions unless --adopt);
6. then each new closed bar: the broker reports fills, the engine decides, orders go
   out (through the guards), and the bar, equity and position are saved.
SIGINT/SIGTERM finish the current bar, flush, and exit 0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from filelock import FileLock, Timeout

from bot import lifecycle
from bot.backtest import build_risk
from bot.data import BarSeries
from bot.engine import Engine
from bot.execution import LiveBroker
from bot.guards import Guards
from bot.journal import Journal
from bot.models import Bar, ns_to_et
from bot.retry import Retrier
from bot.settings import Settings
from bot.state import StateStore
from strategies import build_strategy

LOG = logging.getLogger("bot.runner")
_HUMAN = {
    "signal", "order_intent", "fill", "trade", "guard", "error", "reconcile", "halt",
    "position_mismatch", "late",
}  # fmt: skip
_WARN = {"guard", "error", "halt", "position_mismatch", "late"}


class RunnerError(Exception):
    """The runner cannot start or go on; the message says why and what to do."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunSummary:
    bars: int
    signals: int
    orders: int
    fills: int
    position: float
    equity: float
    state_dir: Path
    log_dir: Path
    halted: str | None


class Feed(Protocol):
    """Where closed bars come from, and the clock that goes with them (bot.feeds)."""

    interval_ns: int

    def history(self) -> BarSeries:
        """Bars up to now, for warm-up (a replay: the whole file)."""
        ...

    def before_bar(self, bar: Bar) -> None:
        """Called just before the engine sees `bar` (a replay moves the broker's clock)."""
        ...

    def regular_hours(self, ts: int) -> bool: ...

    def trading_bars(self, first: int) -> Iterator[Bar]:
        """The bars to trade, from history index `first` on (live feeds keep polling)."""
        ...


_LOCKS: dict[str, FileLock] = {}


def take_lock(state_dir: Path) -> FileLock:
    """The state directory's lock, or RunnerError (exit 3) if another process holds it.

    One FileLock object per directory in this process, so taking it twice (wiring, then
    the runner) nests instead of deadlocking against ourselves."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = str((state_dir / "bot.lock").resolve())
    lock = _LOCKS.setdefault(path, FileLock(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunnerError(
            f"another bot is already running on state directory {state_dir} "
            f"(lock {state_dir / 'bot.lock'}); stop it first",
            code=3,
        ) from None
    return lock


def config_hash(settings: Settings) -> str:
    blob = json.dumps(settings.redacted(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class PaperRunner:
    def __init__(
        self,
        settings: Settings,
        api: Any,
        feed: Feed,
        broker_name: str,
        adopt: bool = False,
        console: Any = None,
        sleep: Callable[[float], None] = lifecycle.sleep,
    ) -> None:
        self.settings = settings
        self.api = api
        self.feed = feed
        self.broker_name = broker_name
        self.adopt = adopt
        self.console = console
        paper = settings.paper
        self.state_dir = Path(paper.state_dir)
        self.log_dir = Path(paper.log_dir)
        self.halt_file = Path(paper.halt_file)
        self._stop = False
        self._sleep = sleep
        self.journal: Journal | None = None

    # -- life cycle ----------------------------------------------------------------
    def run(self, progress: Any = None) -> RunSummary:
        lock = take_lock(self.state_dir)  # re-entrant: the caller may hold it already
        try:
            return self._run_locked(progress)
        finally:
            lock.release()

    @property
    def stopping(self) -> bool:
        """True once SIGINT/SIGTERM asked the run to end after the current bar."""
        return self._stop

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        LOG.info("signal %s received: finishing the current bar, then stopping", signum)
        self._stop = True

    def _run_locked(self, progress: Any) -> RunSummary:
        from bot.state import StateError

        try:
            store = StateStore(self.state_dir / "state.sqlite")
        except StateError as exc:
            raise RunnerError(
                f"{exc}. Move it aside to start fresh, or restore a backup."
            ) from None
        journal = Journal(self.log_dir / "events.jsonl")
        self.journal = journal
        events = self._sink(journal, store)
        s = self.settings
        events(
            "run_start",
            config_hash=config_hash(s),
            broker=self.broker_name,
            symbol=s.symbol,
            state_dir=str(self.state_dir),
        )
        old = {
            sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._trade(store, events, journal, progress)
        except Exception as exc:
            events("error", where="runner", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            journal.flush()
            store.close()

    def _sink(self, journal: Journal, store: StateStore) -> Any:
        def sink(kind: str, /, **fields: Any) -> None:
            # An event's `time` is when it was written (what `bot logs --since` filters
            # on); the bar a signal belongs to goes in `bar_time`.
            journal.event(kind, **{"bar_time" if k == "time" else k: v for k, v in fields.items()})
            if kind == "signal":
                store.add_signal(
                    int(fields.get("ts", 0)), str(fields["level"]), str(fields["kind"]), fields
                )
            if kind in _HUMAN:
                text = human(kind, fields)
                LOG.log(logging.WARNING if kind in _WARN else logging.INFO, "%s", text)
                if self.console is not None:
                    self.console.print(text, markup=False, highlight=False)
                journal.flush()  # decisions are flushed at once; bars may be buffered

        return sink

    # -- the trading loop ----------------------------------------------------------
    def _trade(self, store: StateStore, events: Any, journal: Journal, progress: Any) -> RunSummary:
        s = self.settings
        broker = LiveBroker(
            self.api,
            store,
            s.symbol,
            events,
            settle_lookups=s.alpaca.settle_lookups,
            retrier=self.retrier(events),
        )
        account = broker.account()  # wrong or missing keys fail here, before anything else
        if store.get_meta("initial_cash") is None:
            store.set_meta("initial_cash", repr(account["cash"]))
        initial_cash = float(store.get_meta("initial_cash") or account["cash"])
        history = self.feed.history()
        guards = Guards(
            s.paper,
            self.feed.interval_ns,
            self.halt_file,
            lambda: store.get_meta("halted") or None,
            self.feed.regular_hours,
            count_orders=store.orders_in_session,
            save_loss_halt=lambda session, why: store.set_meta("loss_halt", f"{session}|{why}"),
        )
        engine = Engine(
            build_strategy(s.strategy),
            build_risk(s),
            broker,
            initial_cash,
            events=events,
            trailing=s.risk.trailing_stop,
            guard=guards_check(guards, events),
            check_position=True,
        )
        records = store.orders()
        engine.restore(store.fills(), [r.intent() for r in records], broker.open_orders())
        last = store.last_bar_ts()
        first_trade = self._first_trade_index(history, last)
        warm = list(history.iter_bars(0, first_trade))
        for bar in warm:
            engine.warm_up(bar)  # indicators and level states; no signal acted on
        store.add_history(warm)
        events(
            "warm_up",
            bars=first_trade,
            last_processed=None if last is None else ns_to_et(last).isoformat(),
        )
        now = int(history.ts[first_trade - 1]) if first_trade else 0
        rec = broker.reconcile(engine.portfolio.qty, now, adopt=self.adopt)
        # The pending entry was restored from the orders open before reconciling; one that
        # the broker never got (abandoned) or that ended meanwhile is pending no more.
        still_open = {o.intent.client_order_id for o in broker.open_orders()}
        if engine.pending_entry is not None and engine.pending_entry not in still_open:
            engine.pending_entry = None
            if engine.portfolio.qty == 0:
                engine.entry_level = engine.entry_reason = ""
        if self.adopt and abs(rec.broker_qty - engine.portfolio.qty) > 1e-9:
            engine.adopt_position(rec.broker_qty, rec.broker_avg_price, now)
        events(
            "reconcile", broker_qty=rec.broker_qty, local_qty=engine.portfolio.qty, notes=rec.notes
        )
        if last is not None:
            _restore_session(guards, store, last, initial_cash)

        n_bars = 0
        for bar in self.feed.trading_bars(first_trade):
            if self._stop:
                break
            self._check_halt(store, engine, guards, events, bar)
            self.feed.before_bar(bar)
            # The broker's clock decides "now" and whether the market is open.
            clock = broker.clock()
            engine.now_ns = int(clock["now"].timestamp() * 1e9)
            guards.market_open = bool(clock["is_open"])
            guards.on_bar(
                bar, engine.equity(engine.last_bar.close if engine.last_bar else bar.open)
            )
            engine.on_bar(bar)
            equity = engine.equity(bar.close)
            why = guards.after_bar(equity)
            if why is not None:
                engine.halted_reason = why
                events("guard", reason=why)
            store.add_bar_result(bar, equity, engine.portfolio.cash, engine.portfolio.qty)
            journal.event(
                "bar",
                bar_time=ns_to_et(bar.ts).isoformat(),
                close=bar.close,
                equity=round(equity, 2),
                position=engine.portfolio.qty,
            )
            self._heartbeat()
            n_bars += 1
            if progress is not None:
                progress(n_bars)
            if self.settings.paper.speed > 0:
                time.sleep(1.0 / self.settings.paper.speed)
        p = engine.portfolio
        final_px = engine.last_bar.close if engine.last_bar else 0.0
        summary = RunSummary(
            bars=n_bars,
            signals=len(engine.record.signals),
            orders=len(engine.record.intents),
            fills=len(store.fills()),
            position=p.qty,
            equity=engine.equity(final_px),
            state_dir=self.state_dir,
            log_dir=self.log_dir,
            halted=guards.halted(),
        )
        events(
            "run_end",
            bars=n_bars,
            position=p.qty,
            equity=round(summary.equity, 2),
            stopped=self._stop,
        )
        return summary

    def _first_trade_index(self, history: BarSeries, last: int | None) -> int:
        if last is not None:
            return int(history.ts.searchsorted(last, side="right"))
        start = self.settings.paper.replay_from
        return history.index_of(start.isoformat()) if start is not None else 0

    def _check_halt(
        self, store: StateStore, engine: Engine, guards: Guards, events: Any, bar: Bar
    ) -> None:
        why = guards.halted()
        if why is None:
            engine.halted_reason = guards.loss_halt
            return
        if engine.halted_reason != why:
            engine.halted_reason = why
            events("halt", reason=why)
            if self.settings.paper.cancel_on_halt and engine.pending_entry is not None:
                engine.broker.cancel(engine.pending_entry)
                engine.pending_entry = None
        flatten = self.settings.paper.flatten_on_halt or store.get_meta("halt_flatten") == "1"
        if flatten and engine.portfolio.qty != 0 and engine.last_bar is not None:
            engine.flatten(engine.last_bar, why)

    def retrier(self, events: Any) -> Retrier:
        """The one retry path for this run's broker and feed reads."""
        a = self.settings.alpaca
        return Retrier(a.backoff_base_s, a.backoff_cap_s, events, sleep=self._sleep)

    def _heartbeat(self) -> None:
        (self.state_dir / "heartbeat").write_text(str(time.time()))


def human(kind: str, f: dict[str, Any]) -> str:
    """One readable line per decision, for the console and bot.log."""
    day = str(f.get("time") or f.get("bar_time") or f.get("signal_time") or "")[:10]
    if kind == "signal":
        return f"{day} SIGNAL {f['kind']} {f['level']} ({f['level_value']}): {f['reason']}"
    if kind == "order_intent":
        return (
            f"{day} ORDER  {f['side']} {f['qty']:g} {f['symbol']} ({f['purpose']}), "
            f"client order id {f['client_order_id']}"
        )
    if kind == "fill":
        return f"{day} FILL   {f['side']} {f['qty']:g} @ {f['price']:.2f} ({f['client_order_id']})"
    if kind == "trade":
        return (
            f"TRADE  {f['side']} {f['qty']:g}: {str(f['entry_time'])[:10]} @ "
            f"{f['entry_price']:.2f} -> {str(f['exit_time'])[:10]} @ {f['exit_price']:.2f}, "
            f"P&L {f['pnl']:+,.2f}"
        )
    if kind == "position_mismatch":
        if f.get("resolved"):
            return (
                f"POSITION {f['symbol']}: the broker's position ({f['broker_qty']:g}) matches "
                "the bot's again; entries allowed"
            )
        return (
            f"POSITION MISMATCH {f['symbol']}: the broker holds {f['broker_qty']:g} shares, the "
            f"bot's record says {f['local_qty']:g}. New entries are halted; exits are capped "
            f"at the broker's position. To resolve: {f['resolve']}."
        )
    if kind == "late":
        return (
            f"{day} LATE   {f['purpose']} {f['client_order_id']} sent late for the bar of "
            f"{str(f['bar_time'])[:10]}: {f['why']}"
        )
    rest = " ".join(f"{k}={v}" for k, v in f.items() if v not in (None, "", []))
    return f"{kind.upper():<6} {rest}"


def guards_check(guards: Guards, events: Any = None) -> Any:
    """The engine's guard: the pure checks, plus a "late" event for an exit that goes
    out for a bar older than the stale limit (missed while the bot was down)."""

    def check(intent: Any, bar: Bar, now_ns: int) -> str | None:
        why = guards.check(intent, bar, now_ns)
        if why is None and intent.purpose != "entry" and events is not None:
            late = guards.late(bar, now_ns)
            if late is not None:
                events("late", client_order_id=intent.client_order_id, purpose=intent.purpose,
                       bar_time=ns_to_et(bar.ts).isoformat(), why=late)  # fmt: skip
        return why

    return check


def _restore_session(guards: Guards, store: StateStore, last: int, initial_cash: float) -> None:
    """A restart inside a session carries on its loss count and loss halt."""
    session = store.bar_session(last)
    if session is None:
        return
    start = store.session_start_equity(session)
    saved = (store.get_meta("loss_halt") or "").split("|", 1)
    halt = saved[1] if len(saved) == 2 and saved[0] == str(session) else None
    guards.restore(session, initial_cash if start is None else start, halt)
