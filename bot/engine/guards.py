"""Order guards of a run on a broker account: pure checks, each refusal with a reason.

- maximum orders per day: an entry is refused once `max_orders_per_day` orders were sent
  for the session's signals (the engine's trading state counts each order once, when it
  is submitted; exits are never capped);
- stale data: no entry for a bar that ended more than `stale_after_intervals` bar
  intervals (plus a tolerance) before now. Exits are never held back by it: an exit
  missed while the bot was down goes out at the first chance, marked late (`late`);
- session: no order is sent for a bar outside the session the config allows
  (regular hours by default; daily decisions are made after the close and execute at
  the next regular open, so they pass).
`Guards.check(intent, bar, state)` depends only on its arguments (the config and the
calendar are fixed at construction): it changes nothing, so asking twice is harmless.
The kill switch and the daily loss halt are not guards but the trading state
(bot/engine/tradingstate.py): they hold back every entry before it reaches the guards.
Imports only bot.models and bot.settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.models import Bar, OrderIntent, ns_to_et
from bot.settings import PaperConfig

_DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class GuardState:
    """What the guards look at besides the order and its bar."""

    now_ns: int  # the broker's clock at the decision
    market_open: bool | None  # the broker's clock says the market is open (None: unknown)
    orders_today: int  # orders already sent for the session's signals


@dataclass(frozen=True)
class Guards:
    cfg: PaperConfig
    interval_ns: int
    regular_hours: Callable[[int], bool]  # a bar time -> inside regular hours (the calendar)

    @property
    def daily(self) -> bool:
        return self.interval_ns >= _DAY_NS

    def check(self, intent: OrderIntent, bar: Bar, state: GuardState) -> str | None:
        """None if the order may be sent, else why not."""
        cfg = self.cfg
        if intent.purpose == "entry":
            if state.orders_today >= cfg.max_orders_per_day:
                return (
                    f"max_orders_per_day {cfg.max_orders_per_day} reached "
                    f"({state.orders_today} sent)"
                )
            late = self.late(bar, state.now_ns)
            if late is not None:
                return f"stale data: {late}"
        closed = not self.regular_hours(bar.ts) or state.market_open is False
        if cfg.session == "regular" and not self.daily and closed:
            return (
                f"outside the regular session: bar {ns_to_et(bar.ts).strftime('%Y-%m-%d %H:%M')} ET"
            )
        return None

    def late(self, bar: Bar, now_ns: int) -> str | None:
        """How late a decision on `bar` is, if it is past the stale limit; else None."""
        age = now_ns - (bar.ts + self.interval_ns)
        tolerance = self.cfg.stale_tolerance_s * 1_000_000_000
        if age > self.cfg.stale_after_intervals * self.interval_ns + tolerance:
            return (
                f"bar {ns_to_et(bar.ts).isoformat()} ended {age / 1e9:,.0f} s ago "
                f"(more than {self.cfg.stale_after_intervals} bar intervals)"
            )
        return None


__all__ = ["GuardState", "Guards"]
