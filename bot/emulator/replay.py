"""The replay clock: `advance(state, until)` processes bars in time order and fills orders.

For every symbol, each bar of its matching track (daily by default) whose start is
<= `until` and not processed yet is taken, all symbols merged in time order. Before a
bar: `day` orders whose session closed by its start expire. At the bar: `accepted`
orders that have reached the market become `new`, then the open orders of that symbol
are matched by `bot.broker.matching.match_bar`, the loop SimBroker.on_bar uses too: orders met
at the open first (a gap reaches them before anything inside the bar), then placement
order (so a stop beats a take-profit on the same bar); bracket legs activated by a fill
are checked against the rest of the same bar; a filled leg cancels its OCO sibling. An
order fills whole or, with `state.partial_fill_rate`, in part (bot/emulator/fills.py):
at most once per bar. After the last bar, orders expire up to `until`, and the clock
becomes `until`.

Fill times: a fill is stamped with the start of its bar (09:30 ET for a daily bar): the
daily bar does not say when inside the session a stop or limit was reached.

Routing: an order reaches the market at its `routes_at` (at once in a session, else the
next open). One marked by the `reject_next` fault is `rejected` there instead (with
`failed_at`, its open legs canceled): Alpaca answers a POST with 200 `accepted` and may
still reject the order later, e.g. at the venue ("accepted -> rejected";
https://docs.alpaca.markets/docs/orders-at-alpaca, order lifecycle). Pending cancels and
replaces that are due, by the wall clock or by the replay clock reaching each bar's
start, are settled first; pending orders are not matched (lifecycle.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.broker.matching import match_bar
from bot.emulator.errors import invalid
from bot.emulator.fills import activate_legs, execute
from bot.emulator.jsonfmt import ns_to_utc, utc_iso
from bot.emulator.lifecycle import settle
from bot.emulator.model import PENDING, EmuOrder
from bot.models import Bar, et_to_ns

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


def advance(state: EmulatorState, until: datetime) -> dict[str, Any]:
    until_ns = et_to_ns(until)
    if until_ns < state.now_ns:
        raise invalid(f"until {until.isoformat()} is before the clock {state.now.isoformat()}")
    settle(state)
    events: list[tuple[int, str, int]] = []
    for symbol in state.market.symbols:
        track = state.track(symbol)
        for i in range(state.done[symbol], track.started(until_ns)):
            events.append((track.starts[i], symbol, i))
    events.sort()
    fills: list[dict[str, Any]] = []
    expired: list[str] = []
    for start, symbol, i in events:
        settle(state, start)  # cancels and replaces due (by the replay clock) before it
        expired += _expire(state, start)
        state.done[symbol] = i + 1
        fills += _match(state, symbol, state.track(symbol).bar(i), start)
    settle(state, until_ns)
    expired += _expire(state, until_ns)
    state.now = until
    for order in state.book.open_orders():
        _route(state, order, until_ns)
    return {
        "now": utc_iso(until),
        "bars_processed": len(events),
        "fills": fills,
        "expired": expired,
    }


def _expire(state: EmulatorState, t_ns: int) -> list[str]:
    """`day` orders whose session closed by `t_ns` expire, a partially filled one with its
    filled_qty kept; legs still waiting for their entry are canceled. Alpaca's doc says
    an unfilled day order "is automatically canceled" after the close
    (https://docs.alpaca.markets/docs/orders-at-alpaca, time in force), but the status
    and the trade update it gets are `expired` (its lifecycle list: "expired: The order
    has expired"; the `expired` event at the close, QuantConnect/Lean.Brokerages.Alpaca#50)."""
    gone: list[str] = []
    for order in state.book.open_orders():
        if order.expires_at is None or order.expires_at > t_ns or not order.is_open:
            continue
        if order.status in PENDING:  # the wall clock ends it (lifecycle.py)
            continue
        when = ns_to_utc(order.expires_at)
        waiting = order.status == "held" and not order.armed
        state.book.set_status(order, "canceled" if waiting else "expired", when)
        gone.append(order.client_order_id)
        for leg_id in order.legs:
            leg = state.book.orders[leg_id]
            if leg.status == "held":
                state.book.set_status(leg, "canceled", when)
    return gone


def _route(state: EmulatorState, order: EmuOrder, t_ns: int, at: int | None = None) -> None:
    """An order whose `routes_at` has come by `t_ns` reaches the market, stamped `at`
    (default: its routes_at): `accepted` becomes `new`, or `rejected` if a fault says so."""
    if order.routes_at > t_ns or order.status not in ("accepted", "new"):
        return
    when = ns_to_utc(order.routes_at if at is None else at)
    if order.reject_on_route:
        order.reject_on_route = False
        state.book.set_status(order, "rejected", when)
        for leg_id in order.legs:
            leg = state.book.orders[leg_id]
            if leg.is_open:
                state.book.set_status(leg, "canceled", when)
    elif order.status == "accepted":
        state.book.set_status(order, "new", when)


def _match(state: EmulatorState, symbol: str, bar: Bar, start_ns: int) -> list[dict[str, Any]]:
    when = ns_to_utc(start_ns)
    for order in state.book.open_orders(symbol):  # all routed before any is matched
        _route(state, order, start_ns, start_ns)
    fills: list[dict[str, Any]] = []

    def fill(order: EmuOrder, raw: float) -> list[EmuOrder]:
        fills.append(execute(state, order, raw, bar, when))
        # Legs activated here meet the rest of this bar; an order partly filled here
        # waits for the next bar (match_bar meets each order once per round).
        return activate_legs(state, order, when)

    match_bar([o for o in state.book.open_orders(symbol) if o.working], bar, fill)
    return fills
