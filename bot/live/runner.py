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
reached ends the start with one message (bot/live/startup.py builds and recovers the engine).
Then each new closed bar goes through `Engine.step` (kill switch, the broker's clock,
fills, the broker's position, decisions, orders through the guards, equity, loss halt)
and the bar, equity and position are saved; the runner sets nothing in the engine. Reads
are retried without end (a transient fault never ends the run). Ctrl-C or SIGTERM end
the run at once (bot.lifecycle): everything written is consistent, and the next start
resumes. The broker is LiveBroker over alpaca-py unless a `BrokerFactory` is given (a
test's fake at the Broker interface).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import events as ev
from bot import lifecycle
from bot.broker.live import LiveBroker
from bot.broker.sim import AccountBroker
from bot.engine.core import Engine
from bot.events.journal import Journal
from bot.events.outputs import CONSOLE_QUEUE, JOURNAL_QUEUE, ConsoleSink, JournalSink, StateSink
from bot.events.sinks import Publisher, QueuedSink, Sink
from bot.live import retry
from bot.live.feeds import Feed
from bot.live.retry import Retrier
from bot.live.startup import BrokerFactory, start_engine
from bot.live.stream import StreamPump, start_stream
from bot.live.watchrun import start_watchlist, trade_watchlist
from bot.models import Bar
from bot.settings import Settings
from bot.store.lock import RunnerError, take_lock, write_heartbeat
from bot.store.state import StateStore

LOG = logging.getLogger("bot.runner")


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
    positions: dict[str, float] | None = None  # each symbol's, when several share the run


class PaperRunner:
    def __init__(
        self,
        settings: Settings,
        api: Any,
        feed: Feed | Mapping[str, Feed],
        broker_name: str,
        adopt: bool = False,
        console: Any = None,
        sleep: Callable[[float], None] = lifecycle.sleep,
        sinks: Sequence[Sink] = (),
        broker: BrokerFactory | None = None,
        late_sinks: Sequence[Callable[[], Sink]] = (),
    ) -> None:
        self.settings = settings
        self.api = api
        # One feed per symbol. Several: the watchlist on one account (`settings` are the
        # config's; each engine gets `settings.for_symbol`), stepped by time.
        self.multi = isinstance(feed, Mapping)
        self.feeds: dict[str, Feed] = (
            dict(feed) if isinstance(feed, Mapping) else {settings.symbol: feed}
        )
        self.feed = next(iter(self.feeds.values()))
        self.broker_name = broker_name
        self.adopt = adopt
        self.console = console
        self.sinks = list(sinks)  # more sinks for this run's events (alerts, a dashboard)
        # Sinks made once the state file is open and locked (the alerts' outbox lives in
        # it), before the journal (their secrets are registered first).
        self.late_sinks = list(late_sinks)
        self.make_broker = broker or self._live_broker
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
        from bot.store.state import StateError

        stores: dict[str, StateStore] = {}
        try:
            for sym in self.feeds:  # one file; each symbol's rows under its name
                stores[sym] = StateStore(self.state_dir / "state.sqlite", sym)
            if self.multi:  # the signal rows of every symbol, each under its event's
                stores[""] = StateStore(self.state_dir / "state.sqlite")
        except StateError as exc:
            for opened in stores.values():
                opened.close()
            raise RunnerError(
                f"{exc}. Move it aside to start fresh, or restore a backup."
            ) from None
        made: list[Sink] = []
        try:
            for make in self.late_sinks:
                made.append(make())
        except Exception:
            for sink in made:  # the ones already made (a started watcher, an outbox)
                sink.close()
            for opened in stores.values():
                opened.close()
            raise
        journal = Journal(self.log_dir / "events.jsonl")
        self.journal = journal
        store = stores["" if self.multi else self.settings.symbol]
        events = self._publisher(journal, store, made)
        s = self.settings
        events.publish(
            ev.RunStart(
                config_hash=ev.config_hash(s),
                broker=self.broker_name,
                symbol=",".join(self.feeds),
                state_dir=str(self.state_dir),
            )
        )
        try:
            return self._trade({k: v for k, v in stores.items() if k}, events, progress)
        except lifecycle.Interrupted as exc:
            events.publish(ev.RunEnd(stopped=True, interrupted=str(exc), bars=self.bars_done))
            raise
        except Exception as exc:
            # The events file and bot.log get it; the console does not (ConsoleSink): the
            # command that called run() ends with one message saying what to do.
            events.publish(ev.Error(where="runner", error=f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            try:
                events.close()  # the queued sinks write out what they hold
            finally:
                for opened in stores.values():  # even if a second Ctrl-C cuts the writing short
                    opened.close()

    def _publisher(
        self, journal: Journal, store: StateStore, made: Sequence[Sink] = ()
    ) -> Publisher:
        """The run's sinks: the journal and the console lines do file and terminal I/O,
        so each has its own thread and queue; the state's signal rows are written in the
        loop, on the store's connection."""
        return Publisher(
            [
                QueuedSink(JournalSink(journal), JOURNAL_QUEUE),
                StateSink(store),
                QueuedSink(ConsoleSink(self.console, with_symbol=self.multi), CONSOLE_QUEUE),
                *self.sinks,
                *made,
            ],
            # One symbol a run: its feed's events say it too. Several: each engine's are
            # stamped with its own (Publisher.for_symbol).
            symbol="" if self.multi else self.settings.symbol,
        )

    # -- the trading loop ----------------------------------------------------------
    def _trade(self, stores: dict[str, StateStore], events: Publisher, progress: Any) -> RunSummary:
        # Start-up has a time budget: a broker that cannot be reached stops the run with
        # one message (BrokerUnavailable) instead of retrying for ever before trading.
        with retry.budget(self.settings.alpaca.startup_timeout_s):
            seats = self._start_all(stores, events)
        if self.multi:
            return self._loop_all(stores, seats, events, progress)
        ((engine, first_trade),) = seats.values()
        (store,) = stores.values()
        stream = self._listen(engine, events)
        try:
            return self._loop(store, engine, events, progress, first_trade)
        finally:
            if stream is not None:
                stream.stop()

    def _start_all(
        self, stores: dict[str, StateStore], events: Publisher
    ) -> dict[str, tuple[Engine, int]]:
        """Every symbol's engine, started as one symbol's is; several share an account."""
        if not self.multi:
            (store,) = stores.values()
            return {self.settings.symbol: self._start(store, events)}
        return start_watchlist(self, stores, events)

    def _loop_all(
        self,
        stores: dict[str, StateStore],
        seats: dict[str, tuple[Engine, int]],
        events: Publisher,
        progress: Any,
    ) -> RunSummary:
        return trade_watchlist(self, stores, seats, events, progress)

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
        events: Publisher,
        progress: Any,
        first_trade: int,
    ) -> RunSummary:
        for bar in self.feed.trading_bars(first_trade):
            self.step_bar(store, engine, events, bar)
            n_bars = self.bars_done
            if progress is not None:
                progress(n_bars)
            if self.settings.paper.speed > 0:
                lifecycle.sleep(1.0 / self.settings.paper.speed)
        n_bars = self.bars_done
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
            halted=halt.reason if (halt := engine.trading.switched()) else None,
        )
        events.publish(
            ev.RunEnd(bars=n_bars, position=p.qty, equity=round(summary.equity, 2), stopped=False)
        )
        return summary

    def _start(self, store: StateStore, events: Any) -> tuple[Engine, int]:
        """Crash-only start (bot/live/startup.py): account, history, engine, reconciliation."""
        self.feed.attach_events(events)
        broker = self.make_broker(store, events, self.retrier(events))
        return start_engine(self.settings, self.feed, store, events, broker, adopt=self.adopt)

    def _live_broker(self, store: StateStore, events: Any, retrier: Retrier) -> AccountBroker:
        a = self.settings.alpaca
        return LiveBroker(self.api, store, store.symbol or self.settings.symbol, events,
                          settle_lookups=a.settle_lookups, retrier=retrier,
                          cancel_wait_s=a.cancel_wait_s)  # fmt: skip

    def step_bar(self, store: StateStore, engine: Engine, events: Publisher, bar: Bar) -> None:
        """One closed bar through the engine, then into the state."""
        step = engine.step(bar)
        # A shared account's rows hold the account's equity and cash (what a restart's
        # loss limit and `bot status` read), with the symbol's own position.
        acct = engine.account
        equity = step.equity if acct is None else acct.equity()
        cash = step.cash if acct is None else acct.cash
        # A signal here waits until the bar is saved and counted: run_end's `bars` is then
        # always the number of bars in the state, never one short.
        with lifecycle.deferred():
            store.add_bar_result(bar, equity, cash, step.position)
            self.bars_done += 1
        events.publish(ev.Bar.of(bar, equity, step.position))
        self._heartbeat("trading")

    def retrier(self, events: Any) -> Retrier:
        """The one retry path for this run's broker and feed reads."""
        a = self.settings.alpaca
        return Retrier(a.backoff_base_s, a.backoff_cap_s, events, sleep=self._sleep)

    def _heartbeat(self, state: str) -> None:
        """Written after every bar and while waiting, so `bot status` tells alive from dead."""
        write_heartbeat(self.state_dir, state)
