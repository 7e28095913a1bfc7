"""`AlpacaApi`: Alpaca's trading API through a hardened `TradingClient`.

Each call is one attempt (no retry here: the retry policy lives in `bot.broker.sending`
and `bot.live.retry`, where resending is made safe by the deterministic client order id),
its result plain data (`BrokerOrder`, dicts), its failure translated into the broker
error taxonomy by `bot.alpaca.errors`. What every request gets (time-outs, the rate
limiter, the SDK's own retry off) is `bot.alpaca.session`. Bars are
`bot.alpaca.marketdata`, the trade-updates stream `bot.alpaca.stream`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from bot.alpaca.errors import translate
from bot.alpaca.orders import BrokerOrder, broker_order
from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.session import harden
from bot.alpaca.stream import TradeUpdates
from bot.broker.sim import BrokerError
from bot.live.endpoints import LiveTradingRefused, trading_base_url
from bot.models import ET, OrderIntent, OrderType, Side
from bot.settings import AlpacaConfig


class AlpacaApi:
    """Trading calls, each one attempt, results as plain data, errors translated."""

    def __init__(
        self,
        cfg: AlpacaConfig,
        api_key: str,
        secret_key: str,
        live: bool = False,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = trading_base_url(cfg, live)
        self.limiter = limiter or RateLimiter(cfg.max_requests_per_minute)
        self.client = TradingClient(api_key, secret_key, paper=True, url_override=self.base_url)
        harden(self.client, cfg, self.limiter)
        self._keys = (api_key, secret_key)
        self.tif = TimeInForce(cfg.time_in_force)

    def trade_updates(self) -> TradeUpdates:
        """The account's trade-updates stream (not started)."""
        return TradeUpdates(self.base_url, *self._keys)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise translate(exc) from None

    def account(self) -> dict[str, Any]:
        acct = self._call(self.client.get_account)
        return {
            "cash": float(acct.cash or 0),
            "equity": float(acct.equity or 0),
            "buying_power": float(acct.buying_power or 0),
            "status": str(acct.status),
        }

    def clock(self) -> dict[str, Any]:
        c = self._call(self.client.get_clock)
        return {
            "now": c.timestamp,
            "is_open": c.is_open,
            "next_open": c.next_open,
            "next_close": c.next_close,
        }

    def asset(self, symbol: str) -> dict[str, Any] | None:
        """The asset Alpaca knows by this symbol, or None when it knows none (404)."""
        try:
            a = self._call(self.client.get_asset, symbol)
        except BrokerError as exc:
            if exc.status == 404:
                return None
            raise
        return {"symbol": a.symbol, "name": a.name, "status": str(a.status), "tradable": a.tradable}

    def calendar(self, start: date, end: date) -> list[tuple[date, datetime, datetime]]:
        days = self._call(self.client.get_calendar, GetCalendarRequest(start=start, end=end))
        # Calendar open/close are naive US/Eastern wall-clock times.
        return [(d.date, d.open.replace(tzinfo=ET), d.close.replace(tzinfo=ET)) for d in days]

    def submit(self, intent: OrderIntent) -> BrokerOrder:
        side = OrderSide.BUY if intent.side is Side.BUY else OrderSide.SELL
        common: dict[str, Any] = {
            "symbol": intent.symbol,
            "qty": intent.qty,
            "side": side,
            "client_order_id": intent.client_order_id,
        }
        req: Any
        if intent.purpose == "oco":
            # Protection for a position already held: a take-profit limit and a stop that
            # cancel each other (https://docs.alpaca.markets/docs/orders-at-alpaca, OCO).
            req = LimitOrderRequest(
                **common,
                limit_price=intent.take_profit,
                time_in_force=self.tif,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=intent.take_profit),
                stop_loss=StopLossRequest(stop_price=intent.stop_loss),
            )
        elif intent.type is OrderType.STOP:
            # A stand-alone protective stop lives as long as the position: GTC.
            req = StopOrderRequest(
                **common, stop_price=intent.stop_price, time_in_force=TimeInForce.GTC
            )
        elif intent.type is OrderType.LIMIT:
            req = LimitOrderRequest(
                **common, limit_price=intent.limit_price, time_in_force=TimeInForce.GTC
            )
        else:
            extra: dict[str, Any] = {}
            if intent.stop_loss is not None and intent.take_profit is not None:
                extra["order_class"] = OrderClass.BRACKET
            elif intent.stop_loss is not None or intent.take_profit is not None:
                extra["order_class"] = OrderClass.OTO
            if intent.stop_loss is not None:
                extra["stop_loss"] = StopLossRequest(stop_price=intent.stop_loss)
            if intent.take_profit is not None:
                extra["take_profit"] = TakeProfitRequest(limit_price=intent.take_profit)
            tif = self.tif if extra else TimeInForce.DAY
            req = MarketOrderRequest(**common, time_in_force=tif, **extra)
        return broker_order(self._call(self.client.submit_order, req))

    def by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            o = self._call(self.client.get_order_by_client_id, client_order_id)
        except BrokerError as exc:
            if exc.status == 404:
                return None
            raise
        if o.order_class and str(getattr(o.order_class, "value", o.order_class)) in (
            "bracket",
            "oto",
            "oco",
        ):
            o = self._call(self.client.get_order_by_id, o.id, GetOrderByIdRequest(nested=True))
        return broker_order(o)

    def open_orders(self, symbol: str) -> list[BrokerOrder]:
        req = GetOrdersRequest(
            status=QueryOrderStatus.OPEN, symbols=[symbol], nested=True, limit=500
        )
        return [broker_order(o) for o in self._call(self.client.get_orders, req)]

    def cancel(self, order_id: str) -> None:
        self._call(self.client.cancel_order_by_id, order_id)

    def replace_stop(self, order_id: str, stop_price: float, client_order_id: str) -> BrokerOrder:
        req = ReplaceOrderRequest(stop_price=stop_price, client_order_id=client_order_id)
        return broker_order(self._call(self.client.replace_order_by_id, order_id, req))

    def position_qty(self, symbol: str) -> tuple[float, float]:
        """(signed qty, average entry price); (0, 0) when flat."""
        try:
            p = self._call(self.client.get_open_position, symbol)
        except BrokerError as exc:
            if exc.status == 404:
                return 0.0, 0.0
            raise
        return float(p.qty), float(p.avg_entry_price)


__all__ = ["AlpacaApi", "LiveTradingRefused"]
