"""The paper runner with a watchlist of several symbols on one account (bot/live/runner.py
keeps one symbol's path): every symbol's engine started as one symbol's is, over one
`SharedAccount`; then their bars by time, every close of a time marked before any engine
steps it. A replay merges the symbols' series; live feeds block until their next
session, so they are read a session at a time (bot/live/groupfeed.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import events as ev
from bot import lifecycle
from bot.engine.account import SharedAccount
from bot.engine.core import Engine
from bot.engine.timeline import by_time
from bot.events.sinks import Publisher
from bot.live.feed import AlpacaFeed
from bot.live.groupfeed import live_groups
from bot.live.startup import start_engine
from bot.store.state import StateStore

if TYPE_CHECKING:
    from bot.live.runner import PaperRunner, RunSummary


def start_watchlist(
    runner: PaperRunner, stores: dict[str, StateStore], events: Publisher
) -> dict[str, tuple[Engine, int]]:
    """Each symbol's engine and first bar to trade; their account is one (its cash: the
    recorded initial cash, set by each start)."""
    account = SharedAccount(0.0, runner.settings.portfolio)
    seats = {}
    for sym, feed in runner.feeds.items():
        feed.attach_events(events)
        broker = runner.make_broker(stores[sym], events, runner.retrier(events))
        mine = runner.settings.for_symbol(sym)
        seats[sym] = start_engine(
            mine, feed, stores[sym], events, broker, adopt=runner.adopt, account=account
        )
    return seats


def trade_watchlist(
    runner: PaperRunner,
    stores: dict[str, StateStore],
    seats: dict[str, tuple[Engine, int]],
    events: Publisher,
    progress: Any,
) -> RunSummary:
    """Several symbols: their bars by time, every close of a time marked first."""
    from bot.live.runner import RunSummary  # its home; imported here: the runner imports us

    engines = {sym: engine for sym, (engine, _) in seats.items()}
    account = next(iter(engines.values())).account
    assert account is not None
    firsts = {sym: first for sym, (_, first) in seats.items()}
    if getattr(runner.feed, "live", False):
        feeds = {sym: f for sym, f in runner.feeds.items() if isinstance(f, AlpacaFeed)}
        groups = live_groups(feeds, firsts)
    else:
        groups = by_time({sym: runner.feeds[sym].trading_bars(n) for sym, n in firsts.items()})
    for at_once in groups:
        for bar in at_once:
            account.mark(bar.symbol, bar.close)
        for bar in at_once:
            runner.step_bar(stores[bar.symbol], engines[bar.symbol], events, bar)
        if progress is not None:
            progress(runner.bars_done)
        if runner.settings.paper.speed > 0:
            lifecycle.sleep(1.0 / runner.settings.paper.speed)
    halted = [h.reason for e in engines.values() if (h := e.trading.switched())]
    summary = RunSummary(
        bars=runner.bars_done,
        signals=sum(len(e.record.signals) for e in engines.values()),
        orders=sum(len(e.record.intents) for e in engines.values()),
        fills=sum(len(stores[sym].fills()) for sym in engines),
        position=sum(abs(e.portfolio.qty) for e in engines.values()),
        equity=account.equity(),
        state_dir=runner.state_dir,
        log_dir=runner.log_dir,
        halted=halted[0] if halted else None,
        positions={sym: e.portfolio.qty for sym, e in engines.items()},
    )
    events.publish(ev.RunEnd(bars=runner.bars_done, equity=round(summary.equity, 2), stopped=False))
    return summary
