"""`bot watch` put together: keys, the broker's clock, REST and stream clients, one watcher
per symbol, the state directory's lock and outbox, then the loop (bot/watch/live.py).
Errors a user can act on become one message and an exit code (as `bot paper`'s).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot import lifecycle
from bot.alerts.channels import Channels
from bot.alerts.deliver import Deliverer
from bot.alpaca.datastream import MinuteStream, stream_url
from bot.alpaca.marketdata import AlpacaMarketData
from bot.alpaca.trading import AlpacaApi
from bot.broker.sim import BrokerError
from bot.data.calendar import MarketCalendar
from bot.data.timeframe import Timeframe
from bot.events import Event
from bot.events.journal import Journal, setup_logging
from bot.live.endpoints import LiveTradingRefused
from bot.live.retry import BrokerUnavailable, Retrier
from bot.models import ns_to_et
from bot.settings import Settings
from bot.store.lock import RunnerError, private_dir, take_lock
from bot.store.state import StateStore
from bot.watch.live import LiveWatch, Stream, WatchSummary
from bot.watch.pipeline import SymbolWatch
from bot.watch.rest import RestBars

Printer = Callable[[str], None]


@dataclass
class WatchOptions:
    symbol: str | None = None
    timeframe: str | None = None  # None: each symbol's [alerts.tiers] timeframe
    sessions: int | None = None  # stop after this many sessions; None: run until stopped
    state_dir: str | None = None
    no_confirmed: bool = False  # inside `bot paper`, which sends `confirmed` itself


def run_watch(settings: Settings, opts: WatchOptions, printer: Printer) -> int:
    """Run `bot watch`; the exit code (0 done, 2 a problem to fix, 3 already running,
    5 broker unreachable, 130/143 interrupted)."""
    s = settings
    if opts.state_dir is not None:
        s.watch.state_dir = opts.state_dir
    try:
        summary = _run(s, opts, printer)
    except lifecycle.Interrupted as exc:
        lifecycle.told()
        printer(f"Interrupted ({exc}): run `bot watch` again to go on; no alert is sent twice.")
        return exc.exit_code
    except RunnerError as exc:
        printer(f"error: {exc}")
        return exc.code
    except LiveTradingRefused as exc:
        printer(f"error: {exc}")
        return 2
    except BrokerUnavailable as exc:
        printer(f"error: cannot reach Alpaca: {exc}. Check the network, then run it again.")
        return 5
    except BrokerError as exc:
        if exc.status in (401, 403):
            printer(f"error: Alpaca rejected the API keys (HTTP {exc.status}): check "
                    "ALPACA_API_KEY and ALPACA_SECRET_KEY")  # fmt: skip
        else:
            printer(f"error: Alpaca refused a request for good: {exc}")
        return 2
    printer(
        f"Done: {summary.sessions} session(s), {summary.minutes} minute bar(s), "
        f"{summary.alerts} alert(s); {summary.caught_up} minute(s) read over REST, "
        f"{summary.duplicates} duplicate(s) dropped, {summary.revisions} revision(s), "
        f"{summary.silences} silence(s)"
    )
    return 0


def _run(s: Settings, opts: WatchOptions, printer: Printer) -> WatchSummary:
    if s.alpaca_api_key is None or s.alpaca_secret_key is None:
        raise RunnerError(
            "ALPACA_API_KEY and ALPACA_SECRET_KEY are not set: export them or put them in .env "
            "(a paper account's keys read market data). Offline, `bot replay DATE` shows "
            "what the watcher would have said on a past day."
        )
    key, secret = s.alpaca_api_key.get_secret_value(), s.alpaca_secret_key.get_secret_value()
    state_dir = Path(s.watch.state_dir)
    lock = take_lock(state_dir)
    try:
        setup_logging(private_dir(Path(s.paper.log_dir)), console_level="WARNING",
                      secrets=[key, secret])  # fmt: skip
        api = AlpacaApi(s.alpaca, key, secret)
        symbols = [opts.symbol.upper()] if opts.symbol else s.symbols
        with open_watch(s, api, key, secret, symbols, state_dir, printer, opts) as watch:
            printer(
                f"Watching {', '.join(symbols)} live ({s.watch.feed} minute bars); alerts "
                "only, nothing is traded; Ctrl-C to stop."
            )
            return watch.run()
    finally:
        lock.release()


@contextmanager
def open_watch(
    s: Settings,
    api: AlpacaApi,
    key: str,
    secret: str,
    symbols: list[str],
    state_dir: Path,
    printer: Printer,
    opts: WatchOptions | None = None,
    stop: threading.Event | None = None,
) -> Iterator[LiveWatch]:
    """The live watcher of `symbols` on `api`'s account, its outbox in `state_dir`
    (created), delivered to the channels of the environment and `.env`; on leaving, what
    is due is flushed (10 s at most) and the outbox closed."""
    opts = opts or WatchOptions()
    private_dir(state_dir)
    retrier = Retrier(s.alpaca.backoff_base_s, s.alpaca.backoff_cap_s)

    def clock() -> dict[str, Any]:
        return retrier.call(api.clock, "reading the broker clock")

    today = ns_to_et(int(clock()["now"].timestamp() * 1e9)).date()
    calendar = MarketCalendar(today - timedelta(days=400), today + timedelta(days=400))
    daily = AlpacaMarketData(s.alpaca, key, secret, limiter=api.limiter)
    intraday = s.alpaca.model_copy(update={"feed": s.watch.feed})
    minutes = AlpacaMarketData(intraday, key, secret, limiter=api.limiter)
    rest = RestBars(minutes, daily, calendar, retrier)
    watches = {}
    for sym in symbols:
        tiers = s.tiers_of(sym)
        tf = Timeframe(opts.timeframe or tiers.timeframe)
        if opts.no_confirmed:  # `bot paper` says it itself, from the signal it trades on
            tiers = tiers.model_copy(update={"confirmed": False})
        watches[sym] = SymbolWatch(s.for_symbol(sym), sym, tf, calendar, tiers)
    url = stream_url(s.watch.stream_url, s.alpaca.data_url, s.watch.feed)

    def new_stream(syms: list[str]) -> Stream:
        return MinuteStream(url, key, secret, syms, s.watch.silent_s)

    store = StateStore(state_dir / "state.sqlite")
    journal = Journal(private_dir(Path(s.paper.log_dir)) / "events.jsonl")

    def publish(event: Event) -> None:
        journal.write(event)
        journal.flush()  # a handful a minute: each is on disk at once

    try:
        channels = Channels.from_env(printer=printer)
        deliverer = Deliverer.open(state_dir / "state.sqlite", s.alerts, channels)
        try:
            yield LiveWatch(s, watches, clock, rest, new_stream, deliverer, store, state_dir,
                            opts.sessions, stop, publish)  # fmt: skip
        finally:
            try:
                deliverer.flush(10.0)
            finally:
                deliverer.close()
    finally:
        store.close()


__all__ = ["WatchOptions", "open_watch", "run_watch"]
