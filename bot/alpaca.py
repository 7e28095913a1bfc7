"""The only module that imports alpaca-py: hardened clients and plain-data results.

`AlpacaApi` wraps `TradingClient`; `AlpacaMarketData` wraps
`StockHistoricalDataClient`. Both get what the SDK lacks:
- a connect/read time-out on every request (alpaca-py sets none, so a hung server
  would hang the bot forever);
- the client-side rate limiter on every request;
- the SDK's own retry switched off (it silently resends POST /v2/orders on 429/504);
  the retry policy lives in `bot.execution`, where resending is made safe by the
  deterministic client order id.
Errors come out as `bot.broker` exceptions: `DuplicateOrderError` (422 "must be
unique"), `BrokerError` (a definitive refusal), `Transient` (429/5xx: retry or settle)
and `InDoubt` (time-out or dropped connection: the request may have been processed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from bot.broker import BrokerError, DuplicateOrderError
from bot.data import BarSeries, validate_columns
from bot.models import ET, OrderIntent, Side, et_to_ns, session_day
from bot.ratelimit import RateLimiter
from bot.settings import LIVE_TRADING_URL, PAPER_TRADING_URL, AlpacaConfig

LOG = logging.getLogger("bot.alpaca")
_OHLCV = ("open", "high", "low", "close", "volume")


class Transient(Exception):
    """429 or 5xx: nothing was done (429) or we cannot tell (5xx); retry or settle."""

    def __init__(self, status: int, message: str, reset_at: float | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.reset_at = status, message, reset_at


class InDoubt(Exception):
    """Time-out or dropped connection: the broker may or may not have acted."""


class LiveTradingRefused(Exception):
    """Live trading was asked for without both opt-ins."""


@dataclass(frozen=True)
class BrokerOrder:
    """What the bot needs of an Alpaca order."""

    id: str
    client_order_id: str
    status: str
    side: str
    qty: float
    filled_qty: float
    filled_avg_price: float | None
    order_type: str
    order_class: str
    stop_price: float | None
    limit_price: float | None
    symbol: str
    legs: tuple[BrokerOrder, ...] = ()


def trading_base_url(cfg: AlpacaConfig, live_flag: bool) -> str:
    """The trading endpoint: paper unless config `allow_live` AND `--live` are both given.

    A live URL in the config without both opt-ins is an error, not a silent switch.
    """
    live = cfg.allow_live and live_flag
    url = cfg.trading_url.rstrip("/")
    if live:
        return LIVE_TRADING_URL if url == PAPER_TRADING_URL else url
    if url == LIVE_TRADING_URL.rstrip("/"):
        raise LiveTradingRefused(
            "alpaca.trading_url is the LIVE endpoint but live trading needs two opt-ins: "
            "allow_live = true in the config and --live on the command line"
        )
    if live_flag and not cfg.allow_live:
        raise LiveTradingRefused(
            "--live given but the config does not set alpaca.allow_live = true"
        )
    return url


def _harden(client: Any, cfg: AlpacaConfig, limiter: RateLimiter) -> None:
    session: requests.Session = client._session
    send = session.request
    timeout = (cfg.connect_timeout_s, cfg.read_timeout_s)

    def request(method: str, url: str, **kwargs: Any) -> requests.Response:
        limiter.acquire()
        kwargs.setdefault("timeout", timeout)
        return send(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign,assignment]
    client._retry = 0  # the SDK would resend orders on 429/504 behind our back


def _translate(exc: Exception) -> Exception:
    """SDK/requests exception -> our taxonomy (never includes request headers)."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return InDoubt(type(exc).__name__)
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        code, message = _code_message(exc)
        if status == 429:
            reset = (
                exc.response.headers.get("X-RateLimit-Reset") if exc.response is not None else None
            )
            return Transient(429, message, float(reset) if reset else None)
        if status >= 500:
            return Transient(status, message)
        if status == 422 and "client_order_id must be unique" in message:
            return DuplicateOrderError(status, code, message)
        return BrokerError(status, code, message)
    return exc


def _code_message(exc: APIError) -> tuple[int, str]:
    # APIError.code / .message raise when the body lacks them (alpaca-py#166).
    try:
        code = int(exc.code)
    except Exception:
        code = 0
    try:
        message = str(exc.message)
    except Exception:
        message = str(exc)[:200]
    return code, message


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _order(o: Order) -> BrokerOrder:
    return BrokerOrder(
        id=str(o.id),
        client_order_id=o.client_order_id,
        status=str(o.status.value if hasattr(o.status, "value") else o.status),
        side=str(o.side.value if o.side is not None else ""),
        qty=float(o.qty or 0),
        filled_qty=float(o.filled_qty or 0),
        filled_avg_price=_f(o.filled_avg_price),
        order_type=str(o.order_type.value if o.order_type is not None else ""),
        order_class=str(o.order_class.value if o.order_class is not None else "simple"),
        stop_price=_f(o.stop_price),
        limit_price=_f(o.limit_price),
        symbol=o.symbol or "",
        legs=tuple(_order(leg) for leg in (o.legs or [])),
    )


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
        _harden(self.client, cfg, self.limiter)
        self.tif = TimeInForce(cfg.time_in_force)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise _translate(exc) from None

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

    def calendar(self, start: date, end: date) -> list[tuple[date, datetime, datetime]]:
        days = self._call(self.client.get_calendar, GetCalendarRequest(start=start, end=end))
        # Calendar open/close are naive US/Eastern wall-clock times.
        return [(d.date, d.open.replace(tzinfo=ET), d.close.replace(tzinfo=ET)) for d in days]

    def submit(self, intent: OrderIntent) -> BrokerOrder:
        extra: dict[str, Any] = {}
        if intent.stop_loss is not None and intent.take_profit is not None:
            extra["order_class"] = OrderClass.BRACKET
        elif intent.stop_loss is not None or intent.take_profit is not None:
            extra["order_class"] = OrderClass.OTO
        if intent.stop_loss is not None:
            extra["stop_loss"] = StopLossRequest(stop_price=intent.stop_loss)
        if intent.take_profit is not None:
            extra["take_profit"] = TakeProfitRequest(limit_price=intent.take_profit)
        req = MarketOrderRequest(
            symbol=intent.symbol,
            qty=intent.qty,
            side=OrderSide.BUY if intent.side is Side.BUY else OrderSide.SELL,
            time_in_force=self.tif if extra else TimeInForce.DAY,
            client_order_id=intent.client_order_id,
            **extra,
        )
        return _order(self._call(self.client.submit_order, req))

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
        ):
            o = self._call(self.client.get_order_by_id, o.id, GetOrderByIdRequest(nested=True))
        return _order(o)

    def open_orders(self, symbol: str) -> list[BrokerOrder]:
        req = GetOrdersRequest(
            status=QueryOrderStatus.OPEN, symbols=[symbol], nested=True, limit=500
        )
        return [_order(o) for o in self._call(self.client.get_orders, req)]

    def cancel(self, order_id: str) -> None:
        self._call(self.client.cancel_order_by_id, order_id)

    def replace_stop(self, order_id: str, stop_price: float, client_order_id: str) -> BrokerOrder:
        req = ReplaceOrderRequest(stop_price=stop_price, client_order_id=client_order_id)
        return _order(self._call(self.client.replace_order_by_id, order_id, req))

    def position_qty(self, symbol: str) -> tuple[float, float]:
        """(signed qty, average entry price); (0, 0) when flat."""
        try:
            p = self._call(self.client.get_open_position, symbol)
        except BrokerError as exc:
            if exc.status == 404:
                return 0.0, 0.0
            raise
        return float(p.qty), float(p.avg_entry_price)


class AlpacaMarketData:
    """Split-adjusted bars from Alpaca's data API (IEX by default), paging followed by the SDK."""

    def __init__(
        self,
        cfg: AlpacaConfig,
        api_key: str,
        secret_key: str,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.client = StockHistoricalDataClient(
            api_key, secret_key, url_override=cfg.data_url.rstrip("/")
        )
        _harden(self.client, cfg, limiter or RateLimiter(cfg.max_requests_per_minute))
        self.feed = DataFeed.IEX if cfg.feed == "iex" else DataFeed.SIP

    def bars(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> BarSeries:
        tf = TimeFrame.Day if timeframe == "1d" else TimeFrame.Minute
        req = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=tf,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            adjustment=Adjustment.SPLIT,
            feed=self.feed,
        )
        try:
            barset = self.client.get_stock_bars(req)
        except Exception as exc:
            raise _translate(exc) from None
        rows = barset.data.get(symbol, []) if hasattr(barset, "data") else []
        stamps = [b.timestamp.astimezone(ET) for b in rows]
        if timeframe == "1d":
            # Alpaca stamps daily bars at midnight ET of the session, as our CSVs do.
            stamps = [datetime.combine(t.date(), datetime.min.time(), ET) for t in stamps]
        cols = {k: np.array([float(getattr(b, k)) for b in rows]) for k in _OHLCV}
        series = BarSeries(
            np.array([et_to_ns(t) for t in stamps], dtype="int64"),
            cols["open"],
            cols["high"],
            cols["low"],
            cols["close"],
            cols["volume"],
            np.array([session_day(t.date()) for t in stamps], dtype="int64"),
            timeframe,
            f"alpaca:{symbol}",
        )
        good, rejected = validate_columns(series)
        for rej in rejected:
            LOG.warning("rejected bar from Alpaca: %s", rej)
        return good


__all__ = [
    "AlpacaApi",
    "AlpacaMarketData",
    "BrokerOrder",
    "InDoubt",
    "LiveTradingRefused",
    "Transient",
]
