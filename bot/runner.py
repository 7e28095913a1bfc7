"""`bot paper`: the paper-trading runner around the one engine.

Crash-only start, the same path every time:
1. take the state directory's lock (a second runner exits at once, sending nothing);
2. open the SQLite state (a damaged file stops the run, naming it);
3. check the broker keys with one account call;
4. rebuild the engine: recorded fills -> position and cash; bars up to the last
   processed one (a first replay: up to `replay_from`; a first live run: all the
   fetched history) -> indicators and strategy state, no signal acted on in warm-up;
5. reconcile with the broker (settle every order in doubt, refuse unexplained orders
   or positions unless --adopt).
Steps 3-5 have a time budget (`alpaca.startup_timeout_s`): a broker that cannot be
reached ends the start with one message. Then each new closed bar: the broker reports
fills, the engine checks the broker's position and decides, orders go out (through
the guards), and the bar, equity and position are saved; reads are retried without
end (a transient fault never ends the run). Ctrl-C or SIGTERM end the run at once
(bot.lifecycle): everything written is consistent, and the next start resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot import lifecycle, retry
from bot.backtest import build_risk
from bot.data import BarSeries
from bot.engine import Engine
from bot.eventtext import human
from bot.execution import LiveBroker
from bot.guards import Guards
from bot.halts import loss_halt_of, save_loss_halt, saved_halt
from bot.journal import FILE_ONLY, Journal
from bot.livestream import StreamPump, start_stream
from bot.models import Bar, ns_to_et
from bot.retry import Retrier
from bot.settings import Settings
from bot.state import StateStore
from bot.statelock import RunnerError, take_lock, write_heartbeat
from strategies import build_strategy

LOG = logging.getLogger("bot.runner")
_HUMAN = {
    "signal", "order_intent", "fill", "trade", "guard", "error", "reconcile", "halt",
    "position_mismatch", "late",
}  # fmt: skip
_WARN = {"guard", "error", "halt", "position_mismatch", "late"}


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

    def attach_events(self, events: Any) -> None:
        """The run's event sink, for the feed's own retries and warnings."""
        ...

    def trading_bars(self, first: int) -> Iterator[Bar]:
        """The bars to trade, from history index `first` on (live feeds keep polling)."""
        ...


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
        self._sleep = sleep
        self.journal: Journal | None = None
        self.bars_done = 0

    # -- life cycle ----------------------------------------------------------------
    def run(self, progress: Any = None) -> RunSummary:
        lock = take_lock(self.state_dir)  # re-entrant: the caller may hold it already
        try:
            return self._run_locked(progress)
        finally:
            lock.release()

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
        try:
            return self._trade(store, events, journal, progress)
        except lifecycle.Interrupted as exc:
            events("run_end", stopped=True, interrupted=str(exc), bars=self.bars_done)
            raise
        except Exception as exc:
            # The events file and bot.log get it; the console does not: the command that
            # called run() ends with one message saying what went wrong and what to do.
            error = f"{type(exc).__name__}: {exc}"
            journal.event("error", where="runner", error=error)
            LOG.error("%s", human("error", {"where": "runner", "error": error}), extra=FILE_ONLY)
            raise
        finally:
            journal.flush()
            store.close()

    def _sink(self, journal: Journal, store: StateStore) -> Any:
        def sink(kind: str, /, **fields: Any) -> None:
            # An event's `time` is when it was written (what `bot logs --since` filters
            # on); the bar a signal belongs to goes in `bar_time`.
            journal.event(kind, **{"bar_time" if k == "time" else k: v for k, v in fields.items()})
            if kind == "signal":
                store.add_signal(
                    int(fields.get("ts", 0)), str(fields["tag"]), str(fields["kind"]), fields
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
        # Start-up has a time budget: a broker that cannot be reached stops the run with
        # one message (BrokerUnavailable) instead of retrying for ever before trading.
        with retry.budget(self.settings.alpaca.startup_timeout_s):
            engine, guards, first_trade = self._start(store, events)
        stream = self._listen(engine, events)
        try:
            return self._loop(store, engine, guards, events, journal, progress, first_trade)
        finally:
            if stream is not None:
                stream.stop()

    def _listen(self, engine: Engine, events: Any) -> Any:
        """Live runs: book fills as the broker pushes them while the feed waits."""
        if not (getattr(self.feed, "live", False) and self.settings.alpaca.stream):
            return None
        stream = start_stream(self.api)
        if stream is None:
            return None
        assert isinstance(engine.broker, LiveBroker)
        pump = StreamPump(
            stream,
            engine,
            engine.broker,
            events,
            now=self.feed.broker_now,  # type: ignore[attr-defined]
            sleep=None if self._sleep is lifecycle.sleep else self._sleep,
        )
        self.feed.wait = pump.wait  # type: ignore[attr-defined]
        return stream

    def _loop(
        self,
        store: StateStore,
        engine: Engine,
        guards: Guards,
        events: Any,
        journal: Journal,
        progress: Any,
        first_trade: int,
    ) -> RunSummary:
        n_bars = 0
        for bar in self.feed.trading_bars(first_trade):
            self._step(store, engine, guards, events, journal, bar)
            n_bars += 1
            self.bars_done = n_bars
            if progress is not None:
                progress(n_bars)
            if self.settings.paper.speed > 0:
                lifecycle.sleep(1.0 / self.settings.paper.speed)
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
            "run_end", bars=n_bars, position=p.qty, equity=round(summary.equity, 2), stopped=False
        )
        return summary

    def _start(self, store: StateStore, events: Any) -> tuple[Engine, Guards, int]:
        """Crash-only start: account, history, rebuilt engine, reconciliation."""
        s = self.settings
        self.feed.attach_events(events)
        broker = LiveBroker(
            self.api,
            store,
            s.symbol,
            events,
            settle_lookups=s.alpaca.settle_lookups,
            retrier=self.retrier(events),
            cancel_wait_s=s.alpaca.cancel_wait_s,
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
            lambda: halt.reason if (halt := saved_halt(store)) else None,
            self.feed.regular_hours,
            count_orders=store.orders_in_session,
            save_loss_halt=lambda session, why: save_loss_halt(store, session, why),
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
            engine.warm_up(bar)  # indicators and strategy state; no signal acted on
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
                engine.entry_tag = engine.entry_reason = ""
        if self.adopt and abs(rec.broker_qty - engine.portfolio.qty) > 1e-9:
            engine.adopt_position(rec.broker_qty, rec.broker_avg_price, now)
        events(
            "reconcile", broker_qty=rec.broker_qty, local_qty=engine.portfolio.qty, notes=rec.notes
        )
        if last is not None:
            _restore_session(guards, store, last, initial_cash)
        return engine, guards, first_trade

    def _step(
        self,
        store: StateStore,
        engine: Engine,
        guards: Guards,
        events: Any,
        journal: Journal,
        bar: Bar,
    ) -> None:
        """One closed bar: halt checks, the broker's clock, the engine, the state."""
        self._check_halt(store, engine, guards, events, bar)
        self.feed.before_bar(bar)
        # The broker's clock decides "now" and whether the market is open.
        assert isinstance(engine.broker, LiveBroker)
        clock = engine.broker.clock()
        engine.now_ns = int(clock["now"].timestamp() * 1e9)
        guards.market_open = bool(clock["is_open"])
        guards.on_bar(bar, engine.equity(engine.last_bar.close if engine.last_bar else bar.open))
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
        self._heartbeat("trading")

    def _first_trade_index(self, history: BarSeries, last: int | None) -> int:
        if last is not None:
            return int(history.ts.searchsorted(last, side="right"))
        if getattr(self.feed, "live", False):
            return len(history)  # a first live run trades only bars closing after it starts
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
        saved = saved_halt(store)
        flatten = self.settings.paper.flatten_on_halt or (saved is not None and saved.flatten)
        if flatten and engine.portfolio.qty != 0 and engine.last_bar is not None:
            engine.flatten(engine.last_bar, why)

    def retrier(self, events: Any) -> Retrier:
        """The one retry path for this run's broker and feed reads."""
        a = self.settings.alpaca
        return Retrier(a.backoff_base_s, a.backoff_cap_s, events, sleep=self._sleep)

    def _heartbeat(self, state: str) -> None:
        """Written after every bar and while waiting, so `bot status` tells alive from dead."""
        write_heartbeat(self.state_dir, state)


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
    guards.restore(session, initial_cash if start is None else start, loss_halt_of(store, session))
