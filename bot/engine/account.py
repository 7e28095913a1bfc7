"""One account that several engines share (one engine per symbol): its cash, its equity
and its portfolio limits, as each engine sees them when it decides.

Each engine books its own symbol's fills into its own `Portfolio`, started at zero
cash, so its cash is what that symbol spent and earned; the account adds them to the
initial cash. Sizing then sees the account's cash and equity (every position marked at
its symbol's latest close: all closes of one time are marked before any engine steps
that time, so the order in which symbols step does not change what they see), not an
imaginary account per symbol, and the limits see the other positions:

- `max_open_positions`: positions held plus entries pending, across symbols;
- `max_gross_exposure_pct`: the value of every position, with the new one, against
  equity;
- `max_symbol_pct`: the new position's value against equity.

An entry past a limit is refused with the figures, like any risk refusal; exits are
never limited (a limit must not trap a position).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.models import OrderIntent
from bot.settings import PortfolioConfig

if TYPE_CHECKING:
    from bot.engine.core import Engine


class SharedAccount:
    """The account of the engines `add`ed to it."""

    def __init__(self, initial_cash: float, limits: PortfolioConfig) -> None:
        self.initial_cash = initial_cash
        self.limits = limits
        self.engines: dict[str, Engine] = {}
        self.marks: dict[str, float] = {}  # each symbol's latest close, set before a time's steps

    def add(self, engine: Engine) -> None:
        if engine.symbol in self.engines:
            raise ValueError(f"{engine.symbol} already has an engine on this account")
        self.engines[engine.symbol] = engine

    @property
    def cash(self) -> float:
        return self.initial_cash + sum(e.portfolio.cash for e in self.engines.values())

    def mark(self, symbol: str, price: float) -> None:
        """`symbol`'s close at the time about to be stepped: every symbol deciding at that
        time sees every close of that time, whichever engine steps first."""
        self.marks[symbol] = price

    def _value(self, engine: Engine) -> float:
        """Signed value of the engine's position at its symbol's latest close."""
        qty = engine.portfolio.qty
        if qty == 0:
            return 0.0
        price = self.marks.get(engine.symbol)
        if price is None:
            bar = engine.last_bar
            price = 0.0 if bar is None else bar.close
        return qty * price

    def equity(self) -> float:
        return self.cash + sum(self._value(e) for e in self.engines.values())

    def refusal(self, intent: OrderIntent, price: float) -> str | None:
        """Why this entry would break a limit, with the figures; None if it fits."""
        lim = self.limits
        others = [e for s, e in self.engines.items() if s != intent.symbol]
        busy = [e.symbol for e in others if e.portfolio.qty != 0 or e.pending_entry is not None]
        if len(busy) >= lim.max_open_positions:
            return (
                f"max_open_positions {lim.max_open_positions} reached "
                f"(held or pending: {', '.join(busy)})"
            )
        equity = self.equity()
        if equity <= 0:
            return f"account equity {equity:,.2f} leaves no room for an entry"
        value = intent.qty * price
        mine = value / equity * 100.0
        if mine > lim.max_symbol_pct + 1e-9:
            return (
                f"{intent.symbol} would be {mine:.1f}% of equity {equity:,.2f}, above "
                f"max_symbol_pct {lim.max_symbol_pct:g}"
            )
        gross = (sum(abs(self._value(e)) for e in others) + value) / equity * 100.0
        if gross > lim.max_gross_exposure_pct + 1e-9:
            return (
                f"gross exposure would be {gross:.1f}% of equity {equity:,.2f}, above "
                f"max_gross_exposure_pct {lim.max_gross_exposure_pct:g}"
            )
        return None
