"""The emulated cash account: cash and positions, booked from fills by `bot.engine.portfolio`.

One `Portfolio` per symbol, each started with zero cash, so the account's cash is the
initial cash plus the sum of their cash movements; quantities, average entry prices
and realized P/L come from the same `Portfolio.apply` the backtest uses. No margin:
buying power is cash less what open buy orders hold, the multiplier is "1".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.emulator.jsonfmt import dec, utc_iso
from bot.emulator.market import asset_id
from bot.engine.portfolio import OpenLot, Portfolio
from bot.models import Fill

ACCOUNT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "levelbot-emulator-account"))


@dataclass(frozen=True)
class Quote:
    """What a position is valued at: the latest known price and the previous session close."""

    current: float
    lastday: float


class Account:
    def __init__(self, cash: float, created_at: datetime) -> None:
        self.initial_cash = cash
        self.created_at = created_at
        self.books: dict[str, Portfolio] = {}

    @property
    def cash(self) -> float:
        return self.initial_cash + sum(p.cash for p in self.books.values())

    def qty(self, symbol: str) -> float:
        book = self.books.get(symbol)
        return 0.0 if book is None else book.qty

    def apply(self, symbol: str, fill: Fill) -> None:
        self.books.setdefault(symbol, Portfolio(0.0)).apply(fill)

    def inject(self, symbol: str, qty: float, avg_price: float, ts: int) -> None:
        """Put a position in place without touching cash (one the bot did not open)."""
        book = self.books.setdefault(symbol, Portfolio(0.0))
        book.qty, book.avg_price = qty, (avg_price if qty else 0.0)
        book.lot = OpenLot(qty, avg_price, ts, 0.0, "injected", "") if qty else None

    def open_symbols(self) -> list[str]:
        return sorted(s for s, p in self.books.items() if abs(p.qty) > 1e-9)

    def position_json(self, symbol: str, quote: Quote, held: float) -> dict[str, Any]:
        book = self.books[symbol]
        qty, avg = book.qty, book.avg_price
        cost = qty * avg
        value = qty * quote.current
        pl = value - cost
        intraday = qty * (quote.current - quote.lastday)
        return {
            "asset_id": asset_id(symbol),
            "symbol": symbol,
            "exchange": "NYSE",
            "asset_class": "us_equity",
            "asset_marginable": False,
            "qty": dec(qty),
            "qty_available": dec(qty - held if qty > 0 else qty + held),
            "side": "long" if qty > 0 else "short",
            "avg_entry_price": dec(avg),
            "cost_basis": dec(cost),
            "market_value": dec(value),
            "current_price": dec(quote.current),
            "lastday_price": dec(quote.lastday),
            "change_today": dec(quote.current / quote.lastday - 1 if quote.lastday else 0.0),
            "unrealized_pl": dec(pl),
            "unrealized_plpc": dec(pl / abs(cost) if cost else 0.0),
            "unrealized_intraday_pl": dec(intraday),
            "unrealized_intraday_plpc": dec(
                intraday / abs(qty * quote.lastday) if quote.lastday and qty else 0.0
            ),
        }

    def account_json(
        self,
        quotes: dict[str, Quote],
        reserved: float,
        shorting: bool,
        asof: datetime | None = None,
    ) -> dict[str, Any]:
        cash = self.cash
        long_mv = short_mv = last_mv = 0.0
        for sym in self.open_symbols():
            q = self.books[sym].qty
            value = q * quotes[sym].current
            last_mv += q * quotes[sym].lastday
            if q > 0:
                long_mv += value
            else:
                short_mv += value
        equity = cash + long_mv + short_mv
        buying_power = max(cash - reserved, 0.0)
        return {
            "id": ACCOUNT_ID,
            "account_number": "PA0EMU0001",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "cash": dec(cash),
            "buying_power": dec(buying_power),
            "regt_buying_power": dec(buying_power),
            "non_marginable_buying_power": dec(buying_power),
            "options_buying_power": "0",
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "pending_transfer_out": "0",
            "portfolio_value": dec(equity),
            "equity": dec(equity),
            # Approximation: today's cash with positions at the previous close.
            "last_equity": dec(cash + last_mv),
            "long_market_value": dec(long_mv),
            "short_market_value": dec(short_mv),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "multiplier": "1",
            "shorting_enabled": shorting,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "created_at": utc_iso(self.created_at),
            # The rest of https://docs.alpaca.markets/reference/getaccount-1's example, as
            # a cash account with no options or crypto trading would show them.
            "admin_configurations": {},
            "user_configurations": None,
            "effective_buying_power": dec(buying_power),
            "bod_dtbp": 0,
            "position_market_value": dec(long_mv + abs(short_mv)),
            "balance_asof": (self.created_at if asof is None else asof).date().isoformat(),
            "crypto_tier": 0,
            "options_trading_level": 0,
            "intraday_adjustments": "0",
            "pending_reg_taf_fees": "0",
        }
