"""When a `day` order expires: the close of the session it belongs to.

"A day order is eligible for execution only on the day it is live ... If
submitted after the close, it is queued and submitted the following trading day"
(https://docs.alpaca.markets/docs/orders-at-alpaca, time in force). So: placed
in a session, it ends at that session's close; placed outside one, at the next
session's close. With minute bars (match_timeframe "1m") the rest of the session
is there to fill it: a market order fills on the next minute bar.

With daily bars only, today's bar was matched at its open and the emulator has
no later price today. Alpaca would fill a market order placed at 12:00 within
seconds; expiring it at 16:00 unfilled would silently lose a fill that Alpaca
gives, so a DAY MARKET order placed in a session with daily data is carried to
the next open, where it fills, and ends with that session. A day limit or stop
order placed then ends at today's close unfilled: the emulator cannot tell
whether the afternoon reached it, and giving it the next session instead would
be kinder than Alpaca. With `intraday_day_orders` off, any day order placed in
a session of daily data gets the next session (the emulator's former rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState


def day_close(state: EmulatorState, symbol: str, market_order: bool = False) -> int:
    """The UTC ns at which a day order placed now on `symbol` expires."""
    ns, cal = state.now_ns, state.calendar
    if not cal.is_open(ns):  # before the open or after the close: the next session's
        return cal.next_close(ns)
    daily = state.track(symbol).bars.timeframe.daily
    if daily and (market_order or not state.intraday_day_orders):
        return cal.next_close(cal.next_open(ns))
    if not daily and not state.intraday_day_orders:
        # The former rule: the session of the next minute bar still to be processed,
        # which is another day's when the data has a gap.
        track, n = state.track(symbol), state.done[symbol]
        nxt = track.starts[n] if n < len(track.starts) else ns
        return cal.next_close(max(nxt, ns))
    return cal.next_close(ns)
