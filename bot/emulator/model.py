"""The order as the emulator keeps it (`EmuOrder`), its statuses, and its JSON.

`EmuOrder.to_json` is the `Order` shape alpaca-py parses (shared/ref/alpaca-api.md
section 2.2). Legs point to their parent and OCO sibling. Imports nothing from the
rest of the emulator but its JSON helpers (and `bot.broker.matching`'s view of an order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.broker.matching import Terms
from bot.emulator.jsonfmt import dec, ns_to_utc, opt_dec, utc_iso
from bot.models import OrderType, Side

# Not terminal. `pending_cancel` / `pending_replace` exist only while a cancel or replace
# latency runs (bot/emulator/lifecycle.py); the emulator never produces `pending_new`.
OPEN = frozenset(
    {
        "accepted",
        "pending_new",
        "new",
        "partially_filled",
        "held",
        "pending_cancel",
        "pending_replace",
    }
)
PENDING = frozenset({"pending_cancel", "pending_replace"})
# Statuses in which an order meets the bars (an armed `held` stop leg too: EmuOrder.working).
WORKING = frozenset({"new", "partially_filled"})


@dataclass
class EmuOrder:
    """One order at the emulated broker; legs point to their parent and OCO sibling."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: Side
    type: OrderType
    qty: float
    time_in_force: str
    order_class: str
    status: str
    created_at: datetime
    seq: int  # creation order: the tie-break when several orders meet one bar
    limit_price: float | None = None
    stop_price: float | None = None
    extended_hours: bool = False
    position_intent: str | None = None
    routes_at: int = 0  # UTC ns at which an `accepted` order reaches the market
    expires_at: int | None = None  # UTC ns of the close that ends a `day` order
    reserved: float = 0.0  # buying power held by an open buy order
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    commission: float = 0.0
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    cancel_requested_at: datetime | None = None  # when a DELETE was accepted
    replaced_at: datetime | None = None
    failed_at: datetime | None = None
    pending_from: str | None = None  # the status before pending_cancel / pending_replace
    pending_due: float | None = None  # when (state.monotonic() seconds) that pending ends
    pending_ns: int | None = None  # ... or when the replay clock (UTC ns) passes this
    reject_on_route: bool = False  # the `reject_next` fault: rejected when it is routed
    # A bracket/OTO stop leg whose entry has filled: Alpaca shows it `held` (the stop is
    # watched internally), yet it triggers and holds its shares (bot/emulator/fills.py).
    armed: bool = False
    # A stop that has traded: an elected stop is a market order from then on, so what is
    # left of a partial fill meets later bars at their open (fills.py).
    elected: bool = False
    replaced_by: str | None = None
    replaces: str | None = None
    parent_id: str | None = None
    sibling_id: str | None = None
    legs: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def working(self) -> bool:
        """Routed and able to fill now (not waiting for its entry, not pending)."""
        return self.status in WORKING or (self.status == "held" and self.armed)

    def terms(self) -> Terms | None:
        """What `bot.broker.matching.match_bar` needs, while the order works. An elected stop
        with shares left is a market order now (bot/emulator/fills.py)."""
        if not self.working:
            return None
        otype = OrderType.MARKET if self.elected else self.type
        return otype, self.side, self.limit_price, self.stop_price

    @property
    def holds(self) -> bool:
        """Whether this open order ties up its qty: a leg still waiting for its entry
        does not; an armed `held` stop leg does (also while a cancel of it is pending)."""
        return self.armed or (self.pending_from or self.status) != "held"

    @property
    def remaining(self) -> float:
        return self.qty - self.filled_qty

    def to_json(self, legs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at or self.created_at),
            "submitted_at": utc_iso(self.created_at),
            "filled_at": utc_iso(self.filled_at),
            "expired_at": utc_iso(self.expired_at),
            "expires_at": None if self.expires_at is None else utc_iso(ns_to_utc(self.expires_at)),
            "canceled_at": utc_iso(self.canceled_at),
            "failed_at": utc_iso(self.failed_at),
            "replaced_at": utc_iso(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": dec(self.qty),
            "filled_qty": dec(self.filled_qty),
            "filled_avg_price": opt_dec(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": str(self.type),
            "type": str(self.type),
            "side": str(self.side),
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": opt_dec(self.limit_price),
            "stop_price": opt_dec(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": legs,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            # Alpaca's order carries these two as null for orders placed through the API
            # (https://docs.alpaca.markets/reference/postorder, example "Equity").
            "subtag": None,
            "source": None,
        }
