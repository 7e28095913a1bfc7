"""Risk: turns a signal into an order intent, or refuses it with a reason.

Sizing (fixed shares, fixed notional, percent of equity, or risk-based over an
ATR stop) capped by the maximum position and by buying power; initial, trailing and
take-profit levels. A signal's intent decides: it closes the position when it exits
that side and has the tag of the signal that opened it; it opens one when flat.
Prices used for sizing are the signal bar's close: the next open is not known yet
(no look-ahead). Each intent gets its deterministic client order id from
`bot.engine.orderids`, so a retry or a restart rebuilds the very same id for the same decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.engine.orderids import client_order_id as client_order_id  # also bot.engine.core's import
from bot.indicators import ATR
from bot.models import Bar, Direction, OrderIntent, Rejection, Side, Signal
from bot.settings import BrokerConfig, RiskConfig


@dataclass
class PositionView:
    """What risk needs to know about the current position."""

    qty: float  # signed
    tag: str  # tag of the signal that opened it
    equity: float
    cash: float
    pending_entry: bool = False


class RiskManager:
    def __init__(self, cfg: RiskConfig, costs: BrokerConfig, symbol: str) -> None:
        self.cfg = cfg
        self.costs = costs
        self.symbol = symbol
        self.atr = ATR(cfg.atr_period)
        self._protect = cfg.stop_loss or cfg.trailing_stop
        self._atr_update = self.atr.update

    def on_bar(self, bar: Bar) -> None:
        self._atr_update(bar.high, bar.low, bar.close)

    def decide(self, sig: Signal, pos: PositionView, bar: Bar) -> OrderIntent | Rejection:
        what = f"{sig.kind} {sig.tag}"
        if pos.qty != 0:
            held = Direction.LONG if pos.qty > 0 else Direction.SHORT
            # Only the exit of the position's own entry closes it (same tag): a level
            # breaking down says nothing about a position another level opened.
            if sig.exits is held and sig.tag == pos.tag:
                if not self.cfg.exit_on_breakdown:
                    return Rejection(sig.ts, what, "exit_on_breakdown is off")
                side = Side.SELL if pos.qty > 0 else Side.BUY
                action = "sell" if pos.qty > 0 else "cover"
                return self._intent(sig, side, abs(pos.qty), action, "exit")
            return Rejection(
                sig.ts, what, f"already {held} (opened on {pos.tag}); one position at a time"
            )
        if pos.pending_entry:
            return Rejection(sig.ts, what, "an entry order is already pending")
        if sig.enters is None:
            return Rejection(sig.ts, what, "flat, and the signal opens nothing")
        if sig.enters is Direction.SHORT and not self.cfg.allow_short:
            return Rejection(sig.ts, what, f"long-only: a {sig.kind} while flat opens nothing")
        buy = sig.enters is Direction.LONG
        side = Side.BUY if buy else Side.SELL
        qty, why = self.size(pos, bar.close)
        if qty < 1:
            return Rejection(sig.ts, what, why or "size rounds to 0 shares")
        intent = self._intent(sig, side, qty, "buy" if buy else "short", "entry")
        stop, take = self.protective_prices(side, bar.close)
        if self._protect and stop is None:
            return Rejection(sig.ts, what, f"ATR({self.cfg.atr_period}) not ready for the stop")
        return OrderIntent(
            intent.client_order_id,
            intent.symbol,
            intent.side,
            intent.qty,
            purpose="entry",
            signal_ts=sig.ts,
            reason=sig.reason,
            stop_loss=stop if self._protect else None,
            take_profit=take,
            level=sig.tag,
        )

    def size(self, pos: PositionView, price: float) -> tuple[int, str]:
        """Whole shares for a new entry at about `price`, and why if it is zero."""
        cfg, eq = self.cfg, pos.equity
        if cfg.sizing == "fixed_shares":
            qty = float(cfg.fixed_shares)
        elif cfg.sizing == "fixed_notional":
            qty = cfg.fixed_notional / price
        elif cfg.sizing == "percent_equity":
            qty = eq * cfg.percent_equity / 100.0 / price
        else:
            atr = self.atr.value
            if atr != atr or atr <= 0:
                return 0, f"ATR({cfg.atr_period}) not ready for risk sizing"
            qty = eq * cfg.risk_pct / 100.0 / (cfg.atr_multiple * atr)
        cap = eq * cfg.max_position_pct / 100.0 / price
        slip = 1.0 + self.costs.slippage_bps / 10_000.0
        bp = pos.cash / (price * slip) if pos.cash > 0 else 0.0
        limit = min(qty, cap, bp)
        shares = math.floor(limit + 1e-9)
        if shares < 1:
            binding = (
                "buying power"
                if bp <= min(qty, cap)
                else "max_position_pct"
                if cap < qty
                else "sizing"
            )
            return 0, f"size rounds to 0 shares (limited by {binding})"
        return shares, ""

    def protective_prices(self, side: Side, price: float) -> tuple[float | None, float | None]:
        """(stop, take-profit) around an entry at about `price`."""
        atr = self.atr.value
        sign = 1.0 if side is Side.BUY else -1.0
        stop = None
        if atr == atr and atr > 0:
            stop = round(price - sign * self.cfg.atr_multiple * atr, 2)
        take = None
        if self.cfg.take_profit_pct > 0:
            take = round(price * (1 + sign * self.cfg.take_profit_pct / 100.0), 2)
        return stop, take

    def trail(self, side_long: bool, current_stop: float, extreme: float) -> float:
        """A trailing stop never loosens: max/min of the old stop and extreme -/+ k x ATR."""
        atr = self.atr.value
        if atr != atr:
            return current_stop
        dist = self.cfg.atr_multiple * atr
        if side_long:
            return max(current_stop, round(extreme - dist, 2))
        return min(current_stop, round(extreme + dist, 2))

    def _intent(
        self, sig: Signal, side: Side, qty: float, action: str, purpose: str
    ) -> OrderIntent:
        cid = client_order_id(sig.id_prefix, self.symbol, sig.id_tag(), sig.ts, action)
        return OrderIntent(
            cid, self.symbol, side, qty, purpose=purpose, signal_ts=sig.ts, reason=sig.reason
        )
