"""Trading guards of the paper runner: each can refuse an order, always with a reason.

- kill switch: `bot halt`, or the halt file named in the config, stops new entries at
  once; HALTED is saved in the state and survives restarts (only `bot resume` clears
  it); exits are still allowed;
- maximum daily loss: realised plus unrealised loss since the session's first bar
  beyond `max_daily_loss_pct` of that equity blocks entries for the rest of the session;
- maximum orders per day (every order sent in the session counts once);
- stale data: no entry for a bar that ended more than `stale_after_intervals` bar
  intervals (plus a tolerance) before now. Exits are never held back by it: an exit
  missed while the bot was down goes out at the first chance, marked late (`late`);
- session: no order is sent for a bar outside the session the config allows
  (regular hours by default; daily decisions are made after the close and execute at
  the next regular open, so they pass).
`check(intent, bar, now_ns)` is pure: it returns None or the reason and changes
nothing, so asking twice is harmless. The day's counters are not kept in memory: the
orders come from the state store (`count_orders`), and the session's starting equity
and a loss halt are restored from it on start (`restore`), so a restart lifts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.models import Bar, OrderIntent, ns_to_et
from bot.settings import PaperConfig

_DAY_NS = 86_400 * 1_000_000_000


class Guards:
    def __init__(
        self,
        cfg: PaperConfig,
        interval_ns: int,
        halt_file: Path | None,
        is_halted: Callable[[], str | None],
        regular_hours: Callable[[int], bool],
        count_orders: Callable[[int], int] = lambda session: 0,
        save_loss_halt: Callable[[int, str], None] = lambda session, why: None,
    ) -> None:
        self.cfg = cfg
        self.interval_ns = interval_ns
        self.daily = interval_ns >= _DAY_NS
        self.halt_file = halt_file
        self._is_halted = is_halted
        self._regular = regular_hours
        self._count = count_orders  # orders recorded for a session (the state store)
        self._save_loss_halt = save_loss_halt
        self.session = -1
        self.session_start_equity = 0.0
        self.loss_halt: str | None = None
        self.market_open: bool | None = None  # the broker's clock at the decision, if known

    def restore(self, session: int, start_equity: float, loss_halt: str | None) -> None:
        """Carry on a session that a restart interrupted (values from the state store)."""
        self.session = session
        self.session_start_equity = start_equity
        self.loss_halt = loss_halt

    def on_bar(self, bar: Bar, equity_before: float) -> None:
        """Start-of-bar bookkeeping: a new session starts its own loss count."""
        if bar.session != self.session:
            self.session = bar.session
            self.session_start_equity = equity_before
            self.loss_halt = None

    def orders_today(self) -> int:
        return self._count(self.session)

    def after_bar(self, equity: float) -> str | None:
        """Check the daily loss after a bar is marked; returns a new halt reason once."""
        limit = self.cfg.max_daily_loss_pct
        if limit <= 0 or self.loss_halt is not None or self.session_start_equity <= 0:
            return None
        loss_pct = (self.session_start_equity - equity) / self.session_start_equity * 100
        if loss_pct > limit:
            self.loss_halt = (
                f"daily loss {loss_pct:.2f}% exceeds max_daily_loss_pct {limit:g}% "
                f"(equity {self.session_start_equity:,.2f} -> {equity:,.2f}); "
                "entries blocked for the session"
            )
            self._save_loss_halt(self.session, self.loss_halt)
            return self.loss_halt
        return None

    def halted(self) -> str | None:
        if self.halt_file is not None and self.halt_file.exists():
            return f"halt file {self.halt_file} exists"
        return self._is_halted()

    def check(self, intent: OrderIntent, bar: Bar, now_ns: int) -> str | None:
        """None if the order may be sent, else why not. Changes nothing."""
        if intent.purpose == "entry":
            why = self.halted() or self.loss_halt
            if why is not None:
                return why
            orders = self.orders_today()
            if orders >= self.cfg.max_orders_per_day:
                return f"max_orders_per_day {self.cfg.max_orders_per_day} reached ({orders} sent)"
            late = self.late(bar, now_ns)
            if late is not None:
                return f"stale data: {late}"
        closed = not self._regular(bar.ts) or self.market_open is False
        if self.cfg.session == "regular" and not self.daily and closed:
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
