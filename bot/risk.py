"""Risk: turns a signal into an order intent, or refuses it with a reason.

Sizing (fixed shares, fixed notional, percent of equity, or risk-based over an
ATR stop) capped by the maximum position and by buying power; initial, trailing and
take-profit levels; exit on the breakdown of the level that opened the position.
Prices used for sizing are the signal bar's close: the next open is not known yet
(no look-ahead). Deterministic client order ids come from here, so a retry or a
restart rebuilds the very same id for the same decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.indicators import ATR
from bot.models import Bar, OrderIntent, Rejection, Side, Signal, SignalKind, ns_to_et
from bot.settings import BrokerConfig, RiskConfig

MAX_ID = 128


def client_order_id(strategy: str, symbol: str, level: str, ts: int, action: str) -> str:
    """`lb-BABA-r163.43-20260113T0000-buy`: same signal, same id, every time."""
    short = {"level_breakout": "lb"}.get(strategy, strategy[:12])
    lvl = level.replace("resistance_", "r").replace("peak_52w", "pk52w")
    when = ns_to_et(ts).strftime("%Y%m%dT%H%M")
    cid = f"{short}-{symbol}-{lvl}-{when}-{action}"
    return cid[:MAX_ID]


@dataclass
class PositionView:
    """What risk needs to know about the current position."""

    qty: float  # signed
    level: str  # level that opened it
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
        what = f"{sig.kind} {sig.level}"
        breakout = sig.kind is SignalKind.BREAKOUT
        if pos.qty != 0:
            same_level = sig.level == pos.level
            closes = (pos.qty > 0 and not breakout) or (pos.qty < 0 and breakout)
            if closes and same_level and self.cfg.exit_on_breakdown:
                side = Side.SELL if pos.qty > 0 else Side.BUY
                action = "sell" if pos.qty > 0 else "cover"
                return self._intent(sig, side, abs(pos.qty), action, "exit")
            if closes and same_level:
                return Rejection(sig.ts, what, "exit_on_breakdown is off")
            held = "long" if pos.qty > 0 else "short"
            return Rejection(
                sig.ts, what, f"already {held} (opened on {pos.level}); one position at a time"
            )
        if pos.pending_entry:
            return Rejection(sig.ts, what, "an entry order is already pending")
        if not breakout and not self.cfg.allow_short:
            return Rejection(sig.ts, what, "long-only: a breakdown while flat opens nothing")
        side = Side.BUY if breakout else Side.SELL
        qty, why = self.size(pos, bar.close)
        if qty < 1:
            return Rejection(sig.ts, what, why or "size rounds to 0 shares")
        intent = self._intent(sig, side, qty, "buy" if breakout else "short", "entry")
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
            level=sig.level,
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
        cid = client_order_id(sig.strategy, self.symbol, sig.level, sig.ts, action)
        return OrderIntent(
            cid, self.symbol, side, qty, purpose=purpose, signal_ts=sig.ts, reason=sig.reason
        )
