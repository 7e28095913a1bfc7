"""The paper runner's crash-only start: the same path every time (bot/live/runner.py, steps 3-5).

1. the broker account is read once (wrong or missing keys fail here, before anything);
2. the engine is built with what a run on an account adds (bot/engine/livestep.py): the trading
   state with the kill switch, the daily loss limit and the session a restart
   interrupted (its starting equity and loss halt, from the state store), the guards,
   and the clock (a replay moves the broker's clock to each bar's close);
3. bars up to the last processed one (a first replay: up to `replay_from`; a first live
   run: all the fetched history) warm the indicators and the strategy up, no signal
   acted on;
4. `Engine.recover`: position and cash rebuilt from the recorded fills, then the broker
   reconciled (bot/engine/recovery.py).
The broker comes from a factory (`BrokerFactory`): LiveBroker over alpaca-py by default,
a test's recording fake at the same interface otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot import events as ev
from bot.broker.sim import AccountBroker
from bot.data.series import BarSeries
from bot.engine.account import SharedAccount
from bot.engine.backtest import build_risk
from bot.engine.core import Engine
from bot.engine.guards import Guards
from bot.engine.livestep import Live
from bot.engine.tradingstate import TradingState
from bot.events.sinks import Publisher
from bot.live.feeds import Feed
from bot.live.retry import Retrier
from bot.models import Bar, ns_to_et
from bot.settings import Settings
from bot.store.halts import kill_switch, loss_halt_of, save_loss_halt
from bot.store.state import StateStore
from strategies import build_strategy

# The state store, the run's events and the retry path -> the broker the engine trades on.
BrokerFactory = Callable[[StateStore, Publisher, Retrier], AccountBroker]


class BrokerClock:
    """A bar's decision time: the feed first moves the broker's clock to the bar's close
    (a replay), then the broker's clock decides "now" and whether the market is open."""

    def __init__(self, feed: Feed, broker: AccountBroker) -> None:
        self.feed, self.broker = feed, broker

    def at_bar(self, bar: Bar) -> tuple[int, bool | None]:
        self.feed.before_bar(bar)
        clock = self.broker.clock()
        return int(clock["now"].timestamp() * 1e9), bool(clock["is_open"])


def start_engine(
    settings: Settings,
    feed: Feed,
    store: StateStore,
    events: Publisher,
    broker: AccountBroker,
    adopt: bool = False,
    account: SharedAccount | None = None,
) -> tuple[Engine, int]:
    """The engine, warmed up and reconciled; and the history index of the first bar to trade.
    `account`: the account it shares with other symbols' engines (bot/engine/account.py):
    the engine then books only its own symbol's cash flows, from zero."""
    s, paper = settings, settings.paper
    shared = account
    account_now = broker.account()  # wrong or missing keys fail here, before anything else
    if store.get_meta("initial_cash") is None:
        store.set_meta("initial_cash", repr(account_now["cash"]))
    initial_cash = float(store.get_meta("initial_cash") or account_now["cash"])
    if shared is not None:
        shared.initial_cash = initial_cash
    history = feed.history()
    last = store.last_bar_ts()
    trading = TradingState(
        paper.max_daily_loss_pct,
        kill_switch(store, Path(paper.halt_file), paper.flatten_on_halt),
        save_loss_halt=lambda session, why: save_loss_halt(store, session, why),
    )
    if last is not None:
        _resume_session(trading, store, last, initial_cash)
    live = Live(
        Guards(paper, feed.interval_ns, feed.regular_hours),
        BrokerClock(feed, broker),
        trading,
        cancel_on_halt=paper.cancel_on_halt,
    )
    engine = Engine(
        build_strategy(s.strategy),
        build_risk(s),
        broker,
        initial_cash if shared is None else 0.0,
        events=events,
        trailing=s.risk.trailing_stop,
        live=live,
        account=shared,
    )
    first_trade = first_trade_index(settings, feed, history, last)
    warm = list(history.iter_bars(0, first_trade))
    for bar in warm:
        engine.warm_up(bar)  # indicators and strategy state; no signal acted on
    store.add_history(warm)
    done = None if last is None else ns_to_et(last).isoformat()
    events.publish(ev.WarmUp(bars=first_trade, last_processed=done))
    now = int(history.ts[first_trade - 1]) if first_trade else 0
    engine.recover(now, adopt=adopt)
    return engine, first_trade


def first_trade_index(settings: Settings, feed: Feed, history: BarSeries, last: int | None) -> int:
    if last is not None:
        return int(history.ts.searchsorted(last, side="right"))
    if getattr(feed, "live", False):
        return len(history)  # a first live run trades only bars closing after it starts
    start = settings.paper.replay_from
    return history.index_of(start.isoformat()) if start is not None else 0


def _resume_session(trading: TradingState, store: StateStore, last: int, cash: float) -> None:
    """A restart inside a session carries on its loss count and loss halt."""
    session = store.bar_session(last)
    if session is None:
        return
    start = store.session_start_equity(session)
    trading.resume_session(session, cash if start is None else start, loss_halt_of(store, session))


__all__ = ["BrokerClock", "BrokerFactory", "first_trade_index", "start_engine"]
