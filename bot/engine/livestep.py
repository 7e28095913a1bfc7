"""What a run on a broker account adds to `Engine.step` (backtests and sweeps have none).

- Before the bar: the trading state reads the kill switch; a new halt is announced once
  (`halt`), cancels the working entry with `cancel_on_halt`, and with `flatten` the
  position is closed at market for the previous bar (which is when the halt was seen).
  Then the clock moves to the bar's decision time (a replay moves the broker's clock to
  the bar's close, before the engine sees the bar, so orders fill where a backtest fills
  them) and says whether the market is open; a new session starts its loss count.
- At each order: the guards (bot/engine/guards.py), pure checks of the order, its bar, the
  clock and the session's order count. An exit that passes for a bar older than the
  stale limit (missed while the bot was down) goes out, marked `late`.
- After the bar is marked: the daily loss limit (a `guard` event when it halts).
Nothing here reads a file or the state store: the kill switch comes through the trading
state, the time through the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot import events as ev
from bot.engine import exits
from bot.engine.guards import Guards, GuardState
from bot.engine.orderids import client_order_id
from bot.engine.tradingstate import TradingState
from bot.models import Bar, OrderIntent, Side, ns_to_et

if TYPE_CHECKING:
    from bot.engine.core import Engine


class Clock(Protocol):
    def at_bar(self, bar: Bar) -> tuple[int, bool | None]:
        """Move to `bar`'s decision time; return now (UTC ns) and whether the market is
        open (None: unknown)."""
        ...


@dataclass(frozen=True)
class Live:
    """The parts of a run on a broker account, injected into the engine."""

    guards: Guards
    clock: Clock
    trading: TradingState
    cancel_on_halt: bool = False


def before_bar(engine: Engine, live: Live, bar: Bar) -> None:
    trading = engine.trading
    news = trading.poll()
    if news is not None:
        engine.events.publish(ev.Halt(reason=news.reason))
        if live.cancel_on_halt and engine.pending_entry is not None:
            engine.broker.cancel(engine.pending_entry)
            engine.pending_entry = None
    kill, last = trading.kill, engine.last_bar
    if kill is not None and kill.flatten and engine.portfolio.qty != 0 and last is not None:
        flatten(engine, last, kill.reason)
    engine.now_ns, engine.market_open = live.clock.at_bar(bar)
    trading.begin_bar(bar.session, engine.equity(last.close if last else bar.open))


def guard(engine: Engine, live: Live, intent: OrderIntent, bar: Bar) -> str | None:
    """The guards' verdict on an order, or None; a late exit is said to be late."""
    now = engine.now_ns
    state = GuardState(now, engine.market_open, engine.trading.orders_today())
    why = live.guards.check(intent, bar, state)
    if why is None and intent.purpose != "entry":
        late = live.guards.late(bar, now)
        if late is not None:
            engine.events.publish(
                ev.Late(
                    client_order_id=intent.client_order_id,
                    purpose=intent.purpose,
                    bar_time=ns_to_et(bar.ts).isoformat(),
                    why=late,
                )
            )
    return why


def after_bar(engine: Engine, equity: float) -> None:
    why = engine.trading.end_bar(equity)
    if why is not None:
        engine.events.publish(ev.Guard(reason=why))


def flatten(engine: Engine, bar: Bar, why: str) -> None:
    """Close the position at market (kill switch with flatten), protection cancelled."""
    p = engine.portfolio
    if p.qty == 0 or any(o.intent.purpose == "flatten" for o in engine.broker.open_orders()):
        return
    side = Side.SELL if p.qty > 0 else Side.BUY
    symbol = engine.risk.symbol
    cid = client_order_id(engine.strategy.id_prefix, symbol, "halt", bar.ts, "flatten")
    intent = OrderIntent(
        cid,
        symbol,
        side,
        abs(p.qty),
        purpose="flatten",
        signal_ts=bar.ts,
        reason=f"flatten on halt: {why}",
    )
    exits.close_position(engine, intent, bar)


__all__ = ["Clock", "Live", "after_bar", "before_bar", "flatten", "guard"]
