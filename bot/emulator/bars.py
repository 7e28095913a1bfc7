"""The data API route `GET /v2/stocks/bars`: feeds, adjustment, the data plan, paging.

Bars are served by symbol then time, `limit` and the server's page size per page, with
an opaque page token. Nothing after the replay clock is ever shown (no look-ahead):
minute bars once they have ended; daily bars from their start, today's as it stands so
far and each final bar revised once after the close (bot/emulator/barview.py).

Parameters checked as Alpaca checks them
(https://docs.alpaca.markets/docs/historical-stock-data-1):
- `feed`: `iex`, `sip` or `delayed_sip`. Alpaca also has `otc`, `boats` and `overnight`;
  the emulator refuses those as unsupported (422). Anything else is 422. The emulator has
  one set of bars per symbol: `iex` serves the same bars as `sip`, with the same
  (consolidated) volumes, unlike real IEX whose volumes are a few percent of SIP's.
- `adjustment`: `raw`, `split`, `dividend` or `all`, else 422. The CSV bars are served
  as they are whatever the adjustment (the bundled BABA file is split-adjusted).
- The data plan (`state.data_plan`, "free" by default): on the "free" plan, SIP
  data of the last 15 minutes is refused with 403 "subscription does not permit
  querying recent SIP data" when `feed=sip` or no feed is given (taken as SIP), and the
  request's `end` (the clock when absent) is less than 15 minutes before the clock
  (https://docs.alpaca.markets/docs/about-market-data-api, subscription plans: "because
  of the 15-minute delay, they cannot access the most recent SIP data";
  https://docs.alpaca.markets/docs/market-data-faq, the 403 and its message).
- `delayed_sip` (any plan), and `sip` on the free plan, serve SIP bars 15 minutes late:
  as they stood 15 minutes before the clock (a minute bar shows 15 minutes after it
  ended; today's daily bar from 09:45 ET, as it stood 15 minutes earlier, and its final
  form from 16:15 ET, 13:15 on early closes).
Alpaca's data API often answers errors with {"message"} alone; the emulator always
sends {"code", "message"} (its one rule for error bodies).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Depends, Request

from bot.data.timeframe import DAILY, MINUTE, Timeframe
from bot.emulator.barview import DailyView
from bot.emulator.errors import FORBIDDEN, ApiError, invalid
from bot.emulator.query import choice_param, int_param, list_param, time_param
from bot.emulator.state import EmulatorState
from bot.models import ET, et_to_ns

SERVED = (DAILY, MINUTE)  # the timeframes of the emulator's files (market.py)
FEEDS = ("iex", "sip", "delayed_sip")
UNSUPPORTED_FEEDS = ("otc", "boats", "overnight")
ADJUSTMENTS = ("raw", "split", "dividend", "all")
SIP_DELAY_NS = 15 * 60 * 10**9  # free plans see SIP 15 minutes late


def data_router(state: EmulatorState, auth: Callable[[Request], None]) -> APIRouter:
    r = APIRouter(prefix="/v2/stocks", dependencies=[Depends(auth)])

    @r.get("/bars")
    def bars(request: Request) -> dict[str, Any]:
        """Historical bars of the symbols: those that have closed by the clock, and
        today's daily bar as it stands (bot/emulator/barview.py)."""
        q = dict(request.query_params)
        symbols = list_param(q, "symbols")
        if not symbols:
            raise invalid("symbols is required")
        tf = Timeframe.from_alpaca(q.get("timeframe", ""))
        if tf is None or tf not in SERVED:
            raise invalid(f"invalid timeframe {q.get('timeframe')!r}: the emulator has 1Day, 1Min")
        feed = _feed(q)
        if "adjustment" in q:
            choice_param(q, "adjustment", "raw", ADJUSTMENTS)
        limit = int_param(q, "limit", 1000, 1, 10_000)
        offset = _decode_token(q.get("page_token"))
        descending = choice_param(q, "sort", "asc", ("asc", "desc")) == "desc"
        start, end = time_param(q, "start"), time_param(q, "end")
        with state.lock:
            now = state.now_ns
            last = et_to_ns(end) if end else now
            visible = visible_until(state.data_plan, feed, last, now)
            # Alpaca's default start is the beginning of the current day.
            midnight = datetime.combine(state.now.astimezone(ET).date(), time(0), tzinfo=ET)
            span = (et_to_ns(start or midnight), last, visible)
            size = min(limit, state.bars_page_size)
            view = None
            if tf.daily:  # today's bar as it stands, and the late print (barview.py)
                late = int(state.late_print_s * 1e9)
                view = DailyView(state.market, visible, now, state.todays_bar, late)
            found, nxt = state.market.bars_page(symbols, tf, span, size, offset, descending, view)
        return {"bars": found, "next_page_token": None if nxt is None else _encode_token(nxt)}

    return r


def _feed(q: dict[str, str]) -> str | None:
    feed = q.get("feed")
    if feed is None:
        return None
    if feed in UNSUPPORTED_FEEDS:
        raise invalid(f"feed {feed} is not supported by the emulator (only {', '.join(FEEDS)})")
    if feed not in FEEDS:
        raise invalid(f"invalid feed {feed!r}: one of {', '.join(FEEDS + UNSUPPORTED_FEEDS)}")
    return feed


def visible_until(plan: str, feed: str | None, last: int, now: int) -> int:
    """The latest bar end (UTC ns) the request may see, or the 403 of the free plan.
    `last` is the request's end (the clock if absent); `now` the clock."""
    if feed == "delayed_sip":
        return now - SIP_DELAY_NS
    if plan == "free" and feed in (None, "sip"):
        if last > now - SIP_DELAY_NS:
            raise ApiError(403, FORBIDDEN, "subscription does not permit querying recent SIP data")
        # The free plan has no SIP data of the last 15 minutes at all: today's bar, shown
        # as it stands, is as it stood 15 minutes ago.
        return now - SIP_DELAY_NS
    return now


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, value = text.partition(":")
        if kind == "offset" and int(value) >= 0:
            return int(value)
    except ValueError:
        pass
    raise invalid("invalid page_token")
