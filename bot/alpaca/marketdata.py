"""`AlpacaMarketData`: bars from Alpaca's data API as a `BarSeries`, through a hardened
`StockHistoricalDataClient` (bot.alpaca.session), errors translated (bot.alpaca.errors).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from bot.alpaca.errors import translate
from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.session import harden
from bot.data.checks import validate_columns
from bot.data.series import BarSeries
from bot.data.timeframe import Timeframe
from bot.models import ET, BarRejection, et_to_ns, session_day
from bot.settings import AlpacaConfig

LOG = logging.getLogger("bot.alpaca")
_FEEDS = {"iex": DataFeed.IEX, "sip": DataFeed.SIP, "delayed_sip": DataFeed.DELAYED_SIP}
_OHLCV = ("open", "high", "low", "close", "volume")


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
        harden(self.client, cfg, limiter or RateLimiter(cfg.max_requests_per_minute))
        self.feed = _FEEDS[cfg.feed]
        # A minute more than the plan's delay: the bot's idea of "now" and the broker's
        # may differ by seconds, and an end inside the window is refused outright.
        delay = cfg.sip_delay_s + 60.0 if cfg.feed == "sip" and cfg.sip_delay_s > 0 else 0.0
        if cfg.feed == "delayed_sip":
            delay = 15 * 60.0 + 60.0  # served 15 minutes late, whatever the plan
        self.delay = timedelta(seconds=delay)

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> BarSeries:
        """The valid bars (each refused one logged as a warning)."""
        good, rejected = self.checked_bars(symbol, timeframe, start, end)
        for rej in rejected:
            LOG.warning("rejected bar from Alpaca: %s", rej)
        return good

    def checked_bars(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> tuple[BarSeries, list[BarRejection]]:
        """The valid bars and the refused ones, by the rules bar files are read with."""
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
            raise translate(exc) from None
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
        return validate_columns(series)


__all__ = ["AlpacaMarketData"]
