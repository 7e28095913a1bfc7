"""The one bar step: bar -> fills -> strategy -> risk -> broker -> position and equity.

Every driver only feeds bars to `Engine.step`: `bot backtest` (bot/engine/backtest.py), the
sweep (bot/sweep/evaluate.py, which passes over idle stretches with `idle()` and `skip()`)
and the paper runner, replays and live (bot/live/runner.py). The data source, the broker, the
clock and the journal are injected; a run on a broker account adds `live`
(bot/engine/livestep.py). Nothing here knows whether it is a backtest. Per bar, in this order
(so no decision uses data after its bar):
0. (live) the kill switch is read; the clock moves to the bar's decision time;
1. the broker reports fills that happened during the bar (orders sent earlier);
   (live) the broker's position is compared with ours;
2. risk updates its ATR with the bar; a trailing stop is raised from the bar's high;
3. the strategy sees the closed bar and may confirm signals;
4. risk turns each signal into an order intent or a recorded rejection; the trading
   state (bot/engine/tradingstate.py) holds entries back while halted or reducing;
5. the intent goes through the guards (live) and to the broker, counted once in its
   session's orders (with fill-at-close it fills now, otherwise on a later bar);
6. the close is marked (`record.curves()`: equity and position at every close);
   (live) the daily loss limit.
`step` returns a `StepResult`; `run(bars)` steps through many bars without building one
for each (a result costs about a quarter of a minute bar's step, and a backtest needs only
the record). Fills are booked by bot/engine/booking.py, exits and the broker's position handled
by bot/engine/exits.py, the start on an account by bot/engine/recovery.py.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bot import events as ev
from bot.broker.sim import Broker, BrokerError, DuplicateOrderError, SimBroker
from bot.engine import booking, exits, livestep, recovery
from bot.engine.livestep import Live
from bot.engine.portfolio import Portfolio
from bot.engine.record import EngineRecord, StepResult
from bot.engine.risk import PositionView, RiskManager
from bot.engine.tradingstate import TradingState
from bot.events.sinks import Publisher
from bot.models import Bar, Fill, OrderIntent, Rejection, Side, Signal
from bot.strategy import SignalSource

if TYPE_CHECKING:
    import numpy as np

    from bot.engine.account import SharedAccount
    from bot.live.reconcile import Reconciliation

LOG = logging.getLogger("bot.engine")
_NONE: tuple[()] = ()
# Builds a StepResult without NamedTuple's Python-level __new__: once a bar, it shows.
_new_result = tuple.__new__
_ALWAYS: tuple[bool] = (True,)  # never empty: a broker asked on every bar


class Engine:
    def __init__(
        self,
        strategy: SignalSource,
        risk: RiskManager,
        broker: Broker,
        initial_cash: float,
        events: Publisher | None = None,
        trailing: bool = False,
        live: Live | None = None,
        account: SharedAccount | None = None,
    ) -> None:
        self.strategy = strategy
        self.risk = risk
        self.broker = broker
        self.portfolio = Portfolio(initial_cash)
        self.record = EngineRecord()
        # One engine trades one symbol, the risk manager's; several may share an account
        # and sinks, so its events are stamped with it (Publisher.for_symbol).
        self.symbol = risk.symbol
        self.events = (events if events is not None else Publisher()).for_symbol(self.symbol)
        self.trailing = trailing
        self.live = live  # a run on a broker account (bot/engine/livestep.py); None in backtests
        # An account shared with other symbols' engines (bot/engine/account.py): sizing
        # sees its cash and equity, entries its limits. None: this engine's own account.
        self.account = account
        if account is not None:
            account.add(self)
        self.trading = live.trading if live is not None else TradingState()
        self.now_ns = 0  # the clock at this bar's decision (live: the broker's)
        self.market_open: bool | None = None  # the broker's clock at that time, if known
        self.owed_exit: OrderIntent | None = None  # an exit refused: retried every bar
        self.owed_stop: float | None = None  # the stop of that position, to put back
        self.entry_id = ""  # client order id of the fill that opened the position
        self.exit_id: str | None = None  # the exit working at the broker, if any
        self.entry_tag = ""  # tag of the signal that opened the position (or is pending)
        self.entry_reason = ""
        self.stop_id: str | None = None  # protective stop child at the broker
        self.stop_price = 0.0
        self.extreme = 0.0  # highest high (long) / lowest low (short) since entry
        self.pending_entry: str | None = None
        self.last_bar: Bar | None = None
        self.reasons: dict[str, str] = {}  # client order id -> signal reason (for trades)
        # Sizes of record.intents, .fills, .rejections before the step's first order,
        # fill or refusal: the step's own are what follows (None: it had none).
        self._marks: tuple[int, int, int] | None = None
        self.record.accounts.append((0, initial_cash, 0.0))
        self._account_changed = False  # a fill since the last marked close
        self._idle_key, self._busy = (-1, -1), True
        # Bound once: this step runs a million times in a minute-bar backtest.
        self._broker_on_bar = broker.on_bar
        # A simulated broker's working orders (the very list it keeps, SimBroker.working):
        # while none works no fill can happen in a bar, and its on_bar (which would return
        # none) is not called. Any other broker (live, a symbol's share of an account, a
        # test's) is asked on every bar.
        self._working: Sequence[object] = broker.working if type(broker) is SimBroker else _ALWAYS
        self._atr_update = risk.atr.update  # risk.on_bar without the extra call
        self._strategy_on_bar = strategy.on_bar
        self._close_append = self.record.closes.append

    # -- the step --------------------------------------------------------------------
    def step(self, bar: Bar) -> StepResult:
        """One closed bar through the engine; what it did."""
        self._marks = None
        signals = self._advance(bar)
        p, r = self.portfolio, self.record
        cash, qty = p.cash, p.qty
        equity = cash + qty * bar.close  # as record.curves() has it
        m = self._marks
        if m is None:
            return _new_result(StepResult, (bar, signals, _NONE, _NONE, _NONE, cash, qty, equity))
        done = (tuple(r.intents[m[0] :]), tuple(r.fills[m[1] :]), tuple(r.rejections[m[2] :]))
        return _new_result(StepResult, (bar, signals, *done, cash, qty, equity))

    def run(self, bars: Iterable[Bar]) -> None:
        """`step` over every bar of `bars`, without a result for each: the record has all."""
        deque(map(self._advance, bars), maxlen=0)  # a loop in C: nothing between bars

    def _advance(self, bar: Bar) -> Sequence[Signal]:
        """The step itself, in the order of the module docstring."""
        live = self.live
        if live is not None:
            livestep.before_bar(self, live, bar)
        if self._working:
            fills = self._broker_on_bar(bar)
            if fills:
                for f in fills:
                    self.on_fill(f)
        if self.pending_entry is not None:
            exits.entry_ended(self)
        if self.exit_id is not None:
            exits.exit_ended(self)
        if live is not None:
            # A live broker's position may change behind our back (a simulated one cannot).
            exits.check_position(self, bar)
        self._atr_update(bar.high, bar.low, bar.close)
        if self.trailing and self.stop_id is not None:
            self._trail(bar)
        if self.owed_exit is not None:
            exits.retry_exit(self, bar)
        signals = self._strategy_on_bar(bar)
        if signals:
            for sig in signals:
                self._on_signal(sig, bar)
        self.last_bar = bar
        self._close_append(bar.close)
        if self._account_changed:
            self._mark_account(len(self.record.closes) - 1)
        if live is not None:
            livestep.after_bar(self, self.equity(bar.close))
        return signals

    def warm_up(self, bar: Bar) -> None:
        """History before the first tradable bar: indicators and strategy state only."""
        self.risk.on_bar(bar)
        self.strategy.on_bar(bar)
        self.last_bar = bar

    def idle(self) -> bool:
        """Whether a bar without a signal would change only the ATR and the equity: no
        order working at the broker, no stop to trail, no exit owed."""
        r = self.record
        # Orders and the stop change only with a fill or a new order intent (a cancel
        # comes with the exit it makes way for): look again only then.
        key = (len(r.fills), len(r.intents))
        if key != self._idle_key:
            self._idle_key = key
            self._busy = self.stop_id is not None or bool(self.broker.open_orders())
        return not self._busy and self.owed_exit is None

    def skip(self, closes: np.ndarray, last: Bar, atr_state: tuple[Any, ...]) -> None:
        """Pass over bars the caller knows have no signal, while `idle()`: their equity and
        position marked as `step` marks them, the ATR set to its state after them (the
        caller kept `ATR.state()` of every bar), `last` the last of them."""
        r = self.record
        first = len(r.closes)
        r.closes.frombytes(closes.astype("float64", copy=False).tobytes())
        if self._account_changed:
            self._mark_account(first)
        self.risk.atr.restore(atr_state)
        self.last_bar = last

    def recover(self, now_ts: int, adopt: bool = False) -> Reconciliation:
        """Crash-only start on a broker account, after the warm-up (bot/engine/recovery.py)."""
        return recovery.recover(self, now_ts, adopt)

    def entry_block(self) -> str | None:
        """Why a new entry may not be sent now, or None."""
        return self.trading.entry_block() or self.broker.entry_block()

    def equity(self, price: float) -> float:
        """The account's equity with this symbol at `price` (a shared account: all of it)."""
        if self.account is not None:
            return self.account.equity()
        p = self.portfolio
        return p.cash + p.qty * price

    # -- decisions and orders --------------------------------------------------------
    def _on_signal(self, sig: Signal, bar: Bar) -> None:
        self.record.signals.append(sig)
        self.events.publish(ev.Signal.of(sig))
        p, acct = self.portfolio, self.account
        view = PositionView(
            qty=p.qty,
            tag=self.entry_tag,
            equity=self.equity(bar.close),
            cash=p.cash if acct is None else acct.cash,
            pending_entry=self.pending_entry is not None,
        )
        decision = self.risk.decide(sig, view, bar)
        if isinstance(decision, Rejection):
            self.reject(decision)
            return
        if decision.purpose == "entry":
            blocked = self.entry_block()
            if blocked is None and acct is not None:
                blocked = acct.refusal(decision, bar.close)
            if blocked is not None:
                self.reject(Rejection(sig.ts, f"{sig.kind} {sig.tag}", blocked))
                return
        self.events.publish(ev.RiskApproved.of(sig, decision))
        if decision.purpose == "exit":
            exits.close_position(self, decision, bar)
            return
        self.entry_tag, self.entry_reason = sig.tag, sig.reason
        self.submit(decision, bar)

    def check_order(self, intent: OrderIntent, bar: Bar) -> str | None:
        """The guards' verdict on an order: None if it may go out (always in backtests)."""
        live = self.live
        return None if live is None else livestep.guard(self, live, intent, bar)

    def submit(self, intent: OrderIntent, bar: Bar, checked: bool = False) -> bool:
        """Send an order (through the guards unless `checked`); False if it was refused."""
        if not checked:
            why = self.check_order(intent, bar)
            if why is not None:
                self.guard_refused(intent, why)
                return False
        self._mark()
        self.record.intents.append(intent)
        self.trading.count(intent)  # once per id: a resend after a refusal is the same order
        self.reasons[intent.client_order_id] = intent.reason
        self.events.publish(ev.OrderIntent.of(intent))
        if intent.purpose == "entry":
            self.pending_entry = intent.client_order_id
        try:
            fills = self.broker.submit(intent, bar)
        except DuplicateOrderError:
            # Already placed (a retry or a restart): adopt it, never send it again.
            self.events.publish(ev.Order(client_order_id=intent.client_order_id, status="adopted"))
            return True
        except BrokerError as exc:
            if intent.purpose == "entry":
                self.pending_entry = None
            self.reject(
                Rejection(intent.signal_ts, intent.client_order_id, f"broker refused: {exc}")
            )
            return False
        self.events.publish(ev.Order(client_order_id=intent.client_order_id, status="submitted"))
        for f in fills:
            self.on_fill(f)
        return True

    def guard_refused(self, intent: OrderIntent, why: str) -> None:
        self.events.publish(ev.Guard(client_order_id=intent.client_order_id, reason=why))
        LOG.warning("guard refused %s: %s", intent.client_order_id, why)
        self.reject(Rejection(intent.signal_ts, intent.client_order_id, f"guard: {why}"))

    def on_fill(self, fill: Fill, quiet: bool = False) -> None:
        """Book a fill (bot/engine/booking.py); `quiet` when replaying recorded ones at start."""
        self._mark()
        self._account_changed = True
        booking.on_fill(self, fill, quiet)

    def _mark_account(self, index: int) -> None:
        """Cash and position as they stand, from the marked bar `index` on."""
        self._account_changed = False
        p = self.portfolio
        self.record.accounts.append((index, p.cash, p.qty))

    def _trail(self, bar: Bar) -> None:
        long = self.portfolio.qty > 0
        self.extreme = max(self.extreme, bar.high) if long else min(self.extreme, bar.low)
        new = self.risk.trail(long, self.stop_price, self.extreme)
        if new != self.stop_price and self.stop_id is not None:
            old = self.stop_id
            self.stop_id = self.broker.replace_stop(old, new)
            moved = ev.Order(
                client_order_id=old, status="replaced", stop_price=new, new_id=self.stop_id
            )
            self.events.publish(moved)
            self.stop_price = new

    def cancel_protection(self) -> None:
        for order in self.broker.open_orders():
            if order.parent is not None:
                self.broker.cancel(order.intent.client_order_id)
                cid = order.intent.client_order_id
                self.events.publish(ev.Order(client_order_id=cid, status="canceled"))
        self.stop_id = None

    def reject(self, rej: Rejection) -> None:
        self._mark()
        self.record.rejections.append(rej)
        self.events.publish(ev.RiskRejected.of(rej))

    def _mark(self) -> None:
        if self._marks is None:
            r = self.record
            self._marks = (len(r.intents), len(r.fills), len(r.rejections))


__all__ = ["Engine", "EngineRecord", "Side", "StepResult"]
