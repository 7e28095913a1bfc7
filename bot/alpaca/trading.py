"""The only module that imports alpaca-py: hardened clients and plain-data results.

`AlpacaApi` wraps `TradingClient`; `AlpacaMarketData` wraps
`StockHistoricalDataClient`. Both get what the SDK lacks:
- a connect/read time-out on every request (alpaca-py sets none, so a hung server
  would hang the bot forever);
- the client-side rate limiter on every request;
- the SDK's own retry switched off (it silently resends POST /v2/orders on 429/504);
  the retry policy lives in `bot.broker.live`, where resending is made safe by the
  deterministic client order id.
Errors come out as `bot.broker.sim` exceptions: `DuplicateOrderError` (422 "must be
unique"), `BrokerError` (a definitive refusal), `Transient` (429/5xx: retry or settle)
and `InDoubt` (time-out or dropped connection: the request may have been processed).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, TradeUpdate
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
from alpaca.trading.stream import TradingStream
from pydantic import ValidationError

from bot import lifecycle
from bot.alpaca.ratelimit import RateLimiter
from bot.broker.sim import BrokerError, DuplicateOrderError, InDoubt, Transient
from bot.data.load import BarSeries, validate_columns
from bot.data.timeframe import Timeframe
from bot.live import retry
from bot.live.endpoints import LiveTradingRefused, trading_base_url
from bot.models import ET, OrderIntent, OrderType, Side, et_to_ns, session_day
from bot.settings import AlpacaConfig

LOG = logging.getLogger("bot.alpaca")
_FEEDS = {"iex": DataFeed.IEX, "sip": DataFeed.SIP, "delayed_sip": DataFeed.DELAYED_SIP}
_OHLCV = ("open", "high", "low", "close", "volume")


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


def _harden(client: Any, cfg: AlpacaConfig, limiter: RateLimiter) -> None:
    session: requests.Session = client._session
    send = session.request

    def request(method: str, url: str, **kwargs: Any) -> requests.Response:
        lifecycle.check()  # a stop asked for: no new request goes out
        limiter.acquire()
        left = retry.remaining()  # at start-up the whole budget bounds each attempt too
        connect, read = cfg.connect_timeout_s, cfg.read_timeout_s
        if left is not None:
            connect, read = min(connect, left), min(read, left)
        kwargs.setdefault("timeout", (connect, read))
        return send(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign,assignment]
    client._retry = 0  # the SDK would resend orders on 429/504 behind our back


def _translate(exc: Exception) -> Exception:
    """SDK/requests exception -> our taxonomy (never includes request headers).

    Any failure of the transport (time-out, refused or reset connection, a body cut off
    mid-way as `ChunkedEncodingError`) leaves the request in doubt; a 2xx body that does
    not parse (a proxy's HTML page, a truncated JSON) is treated like a 5xx."""
    if isinstance(exc, requests.RequestException):
        return InDoubt(type(exc).__name__)
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        code, message = _code_message(exc)
        if status == 429:
            reset = (
                exc.response.headers.get("X-RateLimit-Reset") if exc.response is not None else None
            )
            return Transient(429, message, _float_or_none(reset))
        if status >= 500:
            return Transient(status, message)
        if status == 422 and "client_order_id must be unique" in message:
            return DuplicateOrderError(status, code, message)
        return BrokerError(status, code, message, _details(exc))
    if isinstance(exc, ValidationError | ValueError) and not isinstance(exc, BrokerError):
        return Transient(502, f"unreadable response ({type(exc).__name__})")
    return exc


def _float_or_none(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _details(exc: APIError) -> dict[str, object]:
    """The extra keys of an error body (Alpaca adds e.g. `held_for_orders` to a 403)."""
    try:
        body = json.loads(str(exc))
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: v for k, v in body.items() if k not in ("code", "message")}


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
        self._keys = (api_key, secret_key)
        self.tif = TimeInForce(cfg.time_in_force)

    def trade_updates(self) -> TradeUpdates:
        """The account's trade-updates stream (not started)."""
        return TradeUpdates(self.base_url, *self._keys)

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
            "oco",
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
    """Split-adjusted bars from Alpaca's data API, paging followed by the SDK.

    The feed is consolidated SIP by default (what the thresholds were tuned on); on the
    free plan SIP is only served older than 15 minutes, so with `feed = "sip"` every
    request ends `sip_delay_s` before the time asked for. `delayed_sip` and `iex` are
    passed through as they are."""

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
        self.feed = _FEEDS[cfg.feed]
        # A minute more than the plan's delay: the bot's idea of "now" and the broker's
        # may differ by seconds, and an end inside the window is refused outright.
        delay = cfg.sip_delay_s + 60.0 if cfg.feed == "sip" and cfg.sip_delay_s > 0 else 0.0
        if cfg.feed == "delayed_sip":
            delay = 15 * 60.0 + 60.0  # served 15 minutes late, whatever the plan
        self.delay = timedelta(seconds=delay)

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> BarSeries:
        if timeframe.daily:
            tf = TimeFrame.Day
        else:
            tf = TimeFrame(timeframe.minutes, TimeFrameUnit.Minute)
        req = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=tf,
            start=start.astimezone(UTC),
            end=(end - (self.delay if self.feed is DataFeed.SIP else timedelta(0))).astimezone(UTC),
            adjustment=Adjustment.SPLIT,
            feed=self.feed,
        )
        try:
            barset = self.client.get_stock_bars(req)
        except Exception as exc:
            raise _translate(exc) from None
        rows = barset.data.get(symbol, []) if hasattr(barset, "data") else []
        stamps = [b.timestamp.astimezone(ET) for b in rows]
        if timeframe.daily:
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
            symbol,
        )
        good, rejected = validate_columns(series)
        for rej in rejected:
            LOG.warning("rejected bar from Alpaca: %s", rej)
        return good


@dataclass(frozen=True)
class StreamEvent:
    """A trade update as plain data, or a (re)connection ("connected"): after one, events
    may have been missed, so the bot reconciles over REST (Alpaca does not replay)."""

    kind: str  # "connected" | "update"
    event: str = ""
    order: BrokerOrder | None = None
    execution_id: str | None = None
    qty: float | None = None
    price: float | None = None
    at: datetime | None = None


class _Stream(TradingStream):
    """alpaca-py's TradingStream, telling us each time it has (re)connected: 0.44 has no
    callback for that (its reconnect loop is internal), so `_start_ws` is wrapped."""

    on_connected: Callable[[], None] = staticmethod(lambda: None)

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[no-untyped-call]
        self.on_connected()


class TradeUpdates:
    """The account's trade-updates stream in a background thread; events into `events`.

    Only one trade_updates connection per account is allowed, so one of these per run.
    alpaca-py reconnects by itself with jittered backoff; `connected` says whether the
    socket is up now and `last_message` (monotonic) when anything last arrived."""

    def __init__(self, trading_url: str, api_key: str, secret_key: str) -> None:
        scheme, rest = trading_url.split("://", 1)
        ws_url = ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + "/stream"
        self.events: queue.Queue[StreamEvent] = queue.Queue()
        self.connected = False
        self.last_message = 0.0
        self.connects = 0
        self._stream = _Stream(api_key, secret_key, paper=True, url_override=ws_url)
        self._stream.on_connected = self._connected  # type: ignore[method-assign]
        self._stream.subscribe_trade_updates(self._on_update)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trade-updates", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._stream.run()
        finally:
            self.connected = False

    def stop(self) -> None:
        """Ask the stream to close; does not wait (its loop notices within ~5 s)."""
        loop = self._stream._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._stream.stop_ws()))
        self.connected = False

    def _connected(self) -> None:
        self.connected = True
        self.connects += 1
        self.last_message = time.monotonic()
        self.events.put(StreamEvent("connected"))

    async def _on_update(self, u: TradeUpdate) -> None:
        self.last_message = time.monotonic()
        event = str(getattr(u.event, "value", u.event))
        self.events.put(
            StreamEvent(
                "update",
                event,
                _order(u.order),
                None if u.execution_id is None else str(u.execution_id),
                u.qty,
                u.price,
                u.timestamp,
            )
        )


__all__ = [
    "AlpacaApi",
    "AlpacaMarketData",
    "BrokerOrder",
    "InDoubt",
    "LiveTradingRefused",
    "StreamEvent",
    "TradeUpdates",
    "Transient",
]
