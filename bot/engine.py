"""The one loop: bar -> fills -> strategy -> risk -> broker -> position and equity.

Used unchanged by `bot backtest`, offline replays and paper trading; the data
source, the broker and the journal are injected. Nothing here knows whether it is a
backtest. Per bar, in this order (so no decision uses data after its bar):
1. the broker reports fills that happened during the bar (orders sent earlier);
2. risk updates its ATR with the bar; a trailing stop is raised from the bar's high;
3. the strategy sees the closed bar and may confirm signals;
4. risk turns each signal into an order intent or a recorded rejection;
5. the intent is sent (with fill-at-close it fills now, otherwise on a later bar);
6. equity is marked at the close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot import exits
from bot.broker import Broker, BrokerError, DuplicateOrderError, OrderState
from bot.models import (
    Bar,
    Fill,
    OrderIntent,
    Rejection,
    Side,
    Signal,
    Trade,
    ns_to_et,
)
from bot.portfolio import Portfolio
from bot.risk import PositionView, RiskManager, client_order_id
from bot.strategy import SignalSource

LOG = logging.getLogger("bot.engine")
EventSink = Callable[..., None]
Guard = Callable[[OrderIntent, Bar, int], "str | None"]


def no_events(kind: str, /, **fields: object) -> None:
    return None


@dataclass
class EngineRecord:
    """What happened, for reports: signals, decisions, orders, fills, trades."""

    signals: list[Signal] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        strategy: SignalSource,
        risk: RiskManager,
        broker: Broker,
        initial_cash: float,
        events: EventSink = no_events,
        trailing: bool = False,
        guard: Guard | None = None,
        check_position: bool = False,
    ) -> None:
        self.strategy = strategy
        self.risk = risk
        self.broker = broker
        self.portfolio = Portfolio(initial_cash)
        self.record = EngineRecord()
        self.events = events
        self.trailing = trailing
        self.guard = guard  # paper runner guards; None in backtests
        # A live broker's position is checked against ours every bar (paper runner only:
        # a simulated broker cannot be changed behind the engine's back).
        self.check_position = check_position
        self.mismatch: str | None = None  # position mismatch: blocks entries while set
        self.mismatch_gap = 0.0  # broker qty - ours, when the mismatch was last reported
        self.exit_failed: str | None = None  # an exit refused and its protection too
        self.owed_exit: OrderIntent | None = None  # an exit refused: retried every bar
        self.owed_stop: float | None = None  # the stop of that position, to put back
        self.entry_id = ""  # client order id of the fill that opened the position
        self.exit_id: str | None = None  # the exit working at the broker, if any
        self.now_ns = 0  # the runner's clock (for the stale-data guard)
        self.entry_tag = ""  # tag of the signal that opened the position (or is pending)
        self.entry_reason = ""
        self.stop_id: str | None = None  # protective stop child at the broker
        self.stop_price = 0.0
        self.extreme = 0.0  # highest high (long) / lowest low (short) since entry
        self.pending_entry: str | None = None
        self.last_bar: Bar | None = None
        self.halted_reason: str | None = None
        self._reasons: dict[str, str] = {}  # client order id -> signal reason (for trades)
        # Bound once: this loop runs a million times in a minute-bar backtest.
        self._broker_on_bar = broker.on_bar
        self._atr_update = risk.atr.update  # risk.on_bar without the extra call
        self._strategy_on_bar = strategy.on_bar

    # -- the loop --------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        fills = self._broker_on_bar(bar)
        if fills:
            for f in fills:
                self.on_fill(f)
        if self.pending_entry is not None:
            exits.entry_ended(self)
        if self.exit_id is not None:
            exits.exit_ended(self)
        if self.check_position:
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
        return signals

    def restore(
        self, fills: list[Fill], intents: list[OrderIntent], open_orders: list[OrderState]
    ) -> None:
        """Rebuild position, cash and trades from the recorded fills (crash-only start).

        `intents` are every order the bot recorded (for reasons and tags); open orders
        give the pending entry and the protective stop.
        """
        by_id = {i.client_order_id: i for i in intents}
        self._reasons.update({i.client_order_id: i.reason for i in intents})
        for f in fills:
            intent = by_id.get(f.client_order_id)
            if self.portfolio.qty == 0 and intent is not None:
                self.entry_tag, self.entry_reason = intent.level, intent.reason
            self.on_fill(f, quiet=True)
        for o in open_orders:
            if o.parent is None and o.intent.purpose == "entry":
                self.pending_entry = o.intent.client_order_id
                self.entry_tag, self.entry_reason = o.intent.level, o.intent.reason

    def adopt_position(self, qty: float, avg_price: float, ts: int) -> None:
        """Take the broker's position as ours (explicit --adopt after a mismatch)."""
        side = Side.BUY if qty > self.portfolio.qty else Side.SELL
        delta = abs(qty - self.portfolio.qty)
        if delta > 0:
            self.on_fill(Fill("adopted", side, delta, avg_price, ts, 0.0, "adopted"))
            self.entry_tag = self.entry_tag or "adopted"

    def flatten(self, bar: Bar, why: str) -> None:
        """Close the position at market (kill switch with flatten), protection cancelled."""
        p = self.portfolio
        if p.qty == 0 or any(o.intent.purpose == "flatten" for o in self.broker.open_orders()):
            return
        side = Side.SELL if p.qty > 0 else Side.BUY
        cid = client_order_id(self.strategy.id_prefix, self.risk.symbol, "halt", bar.ts, "flatten")
        intent = OrderIntent(
            cid,
            self.risk.symbol,
            side,
            abs(p.qty),
            purpose="flatten",
            signal_ts=bar.ts,
            reason=f"flatten on halt: {why}",
        )
        exits.close_position(self, intent, bar)

    def warm_up(self, bar: Bar) -> None:
        """History before the first tradable bar: indicators and strategy state only."""
        self.risk.on_bar(bar)
        self.strategy.on_bar(bar)
        self.last_bar = bar

    def entry_block(self) -> str | None:
        """Why a new entry may not be sent now, or None."""
        if self.halted_reason is not None:
            return f"halted: {self.halted_reason}"
        if self.mismatch is not None:
            return self.mismatch
        if self.exit_failed is not None:
            return self.exit_failed
        return self.broker.entry_block()

    def equity(self, price: float) -> float:
        p = self.portfolio
        return p.cash + p.qty * price

    # -- steps -----------------------------------------------------------------------
    def _on_signal(self, sig: Signal, bar: Bar) -> None:
        self.record.signals.append(sig)
        self.events("signal", **sig.as_dict())
        p = self.portfolio
        view = PositionView(
            qty=p.qty,
            tag=self.entry_tag,
            equity=self.equity(bar.close),
            cash=p.cash,
            pending_entry=self.pending_entry is not None,
        )
        decision = self.risk.decide(sig, view, bar)
        if isinstance(decision, Rejection):
            self.reject(decision)
            return
        if decision.purpose == "entry":
            blocked = self.entry_block()
            if blocked is not None:
                self.reject(Rejection(sig.ts, f"{sig.kind} {sig.tag}", blocked))
                return
        self.events(
            "risk",
            decision="approve",
            signal_time=sig.time.isoformat(),
            client_order_id=decision.client_order_id,
            side=str(decision.side),
            qty=decision.qty,
        )
        if decision.purpose == "exit":
            exits.close_position(self, decision, bar)
            return
        self.entry_tag, self.entry_reason = sig.tag, sig.reason
        self.submit(decision, bar)

    def submit(self, intent: OrderIntent, bar: Bar, checked: bool = False) -> bool:
        """Send an order (through the guards unless `checked`); False if it was refused."""
        if self.guard is not None and not checked:
            why = self.guard(intent, bar, self.now_ns)
            if why is not None:
                self.guard_refused(intent, why)
                return False
        self.record.intents.append(intent)
        self._reasons[intent.client_order_id] = intent.reason
        self.events("order_intent", **_intent_dict(intent))
        if intent.purpose == "entry":
            self.pending_entry = intent.client_order_id
        try:
            fills = self.broker.submit(intent, bar)
        except DuplicateOrderError:
            # Already placed (a retry or a restart): adopt it, never send it again.
            self.events("order", client_order_id=intent.client_order_id, status="adopted")
            return True
        except BrokerError as exc:
            if intent.purpose == "entry":
                self.pending_entry = None
            self.reject(
                Rejection(intent.signal_ts, intent.client_order_id, f"broker refused: {exc}")
            )
            return False
        self.events("order", client_order_id=intent.client_order_id, status="submitted")
        for f in fills:
            self.on_fill(f)
        return True

    def guard_refused(self, intent: OrderIntent, why: str) -> None:
        self.events("guard", client_order_id=intent.client_order_id, reason=why)
        LOG.warning("guard refused %s: %s", intent.client_order_id, why)
        self.reject(Rejection(intent.signal_ts, intent.client_order_id, f"guard: {why}"))

    def on_fill(self, fill: Fill, quiet: bool = False) -> None:
        self.record.fills.append(fill)
        p = self.portfolio
        opening = p.qty == 0
        reason = self.entry_reason if opening else self._exit_reason(fill)
        trade = p.apply(fill, reason=reason, level=self.entry_tag)
        if quiet:  # replaying recorded fills on start-up: already journalled
            self._after_fill(fill, opening)
            return
        self.events(
            "fill",
            client_order_id=fill.client_order_id,
            side=str(fill.side),
            qty=fill.qty,
            price=round(fill.price, 4),
            bar_time=ns_to_et(fill.ts).isoformat(),
            commission=fill.commission,
            position=p.qty,
        )
        self._after_fill(fill, opening)
        if trade is not None:
            self._trade_event(trade)

    def _after_fill(self, fill: Fill, opening: bool) -> None:
        p = self.portfolio
        if fill.client_order_id == self.pending_entry:
            self.pending_entry = None
        if opening and p.qty != 0:
            self.entry_id = fill.client_order_id
            stop = self._protective_stop(fill.client_order_id)
            self.stop_id = None if stop is None else stop.intent.client_order_id
            self.stop_price = 0.0 if stop is None else (stop.intent.stop_price or 0.0)
            self.extreme = fill.price
        if p.qty == 0:
            self.stop_id = None
            self.entry_tag = ""
            self.entry_reason = ""
            self.entry_id = ""
            self.owed_exit = self.owed_stop = None
            self.exit_id = None

    def _trail(self, bar: Bar) -> None:
        long = self.portfolio.qty > 0
        self.extreme = max(self.extreme, bar.high) if long else min(self.extreme, bar.low)
        new = self.risk.trail(long, self.stop_price, self.extreme)
        if new != self.stop_price and self.stop_id is not None:
            old = self.stop_id
            self.stop_id = self.broker.replace_stop(old, new)
            self.events(
                "order", client_order_id=old, status="replaced", stop_price=new, new_id=self.stop_id
            )
            self.stop_price = new

    def cancel_protection(self) -> None:
        for order in self.broker.open_orders():
            if order.parent is not None:
                self.broker.cancel(order.intent.client_order_id)
                self.events(
                    "order", client_order_id=order.intent.client_order_id, status="canceled"
                )
        self.stop_id = None

    def reject(self, rej: Rejection) -> None:
        self.record.rejections.append(rej)
        self.events(
            "risk",
            decision="reject",
            what=rej.what,
            reason=rej.reason,
            signal_time=ns_to_et(rej.ts).isoformat(),
        )

    def _trade_event(self, t: Trade) -> None:
        self.events(
            "trade",
            side=t.side,
            qty=t.qty,
            entry_time=t.entry_time.isoformat(),
            entry_price=round(t.entry_price, 4),
            exit_time=t.exit_time.isoformat(),
            exit_price=round(t.exit_price, 4),
            pnl=round(t.pnl, 2),
        )

    def _exit_reason(self, fill: Fill) -> str:
        if fill.purpose == "stop":
            return f"stop hit at {fill.price:.2f}"
        if fill.purpose in ("take_profit", "oco"):
            return f"take-profit hit at {fill.price:.2f}"
        return self._reasons.get(fill.client_order_id, fill.purpose)

    def _protective_stop(self, parent: str) -> OrderState | None:
        for o in self.broker.open_orders():
            if o.parent == parent and o.intent.purpose == "stop":
                return o
        return None


def _intent_dict(i: OrderIntent) -> dict[str, object]:
    return {
        "client_order_id": i.client_order_id,
        "symbol": i.symbol,
        "side": str(i.side),
        "qty": i.qty,
        "type": str(i.type),
        "purpose": i.purpose,
        "signal_time": ns_to_et(i.signal_ts).isoformat(),
        "stop_loss": i.stop_loss,
        "take_profit": i.take_profit,
        "reason": i.reason,
    }


__all__ = ["Engine", "EngineRecord", "Side"]
