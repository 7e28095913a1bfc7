"""Cash, position and closed trades, updated from fills only.

The engine keeps one as its own record; the simulated broker and the emulator keep
one as "the broker's" account. Signed quantity: > 0 long, < 0 short.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.models import Fill, Side, Trade


@dataclass
class OpenLot:
    qty: float  # signed
    price: float  # average entry price
    ts: int
    commission: float
    reason: str
    level: str


@dataclass
class Portfolio:
    cash: float
    qty: float = 0.0
    avg_price: float = 0.0
    realized: float = 0.0
    lot: OpenLot | None = None
    trades: list[Trade] = field(default_factory=list)

    def equity(self, price: float) -> float:
        return self.cash + self.qty * price

    def apply(self, fill: Fill, reason: str = "", level: str = "") -> Trade | None:
        """Book a fill; returns the Trade it closes, if any (partial closes pro-rata)."""
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        self.cash -= signed * fill.price + fill.commission
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.avg_price = (self.avg_price * self.qty + fill.price * signed) / total
            self.qty = total
            if self.lot is None:
                self.lot = OpenLot(signed, fill.price, fill.ts, fill.commission, reason, level)
            else:
                self.lot.qty, self.lot.price = total, self.avg_price
                self.lot.commission += fill.commission
            return None
        # Reducing or closing (flips are split by the engine, never sent as one order).
        closing = min(abs(signed), abs(self.qty))
        direction = 1.0 if self.qty > 0 else -1.0
        gross = (fill.price - self.avg_price) * closing * direction
        lot = self.lot
        assert lot is not None
        share = closing / abs(lot.qty)
        entry_comm = lot.commission * share
        pnl = gross - entry_comm - fill.commission
        self.realized += pnl
        trade = Trade(
            side="long" if direction > 0 else "short",
            qty=closing,
            entry_ts=lot.ts,
            entry_price=lot.price,
            exit_ts=fill.ts,
            exit_price=fill.price,
            pnl=pnl,
            commission=entry_comm + fill.commission,
            entry_reason=lot.reason,
            exit_reason=reason,
            level=lot.level,
            symbol=fill.symbol,
        )
        self.trades.append(trade)
        self.qty += signed
        lot.commission -= entry_comm
        lot.qty = self.qty
        if abs(self.qty) < 1e-9:
            self.qty, self.avg_price, self.lot = 0.0, 0.0, None
        return trade
