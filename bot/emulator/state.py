"""EmulatorState: the paper broker behind the HTTP layer (pure Python, no HTTP).

It holds the account, the order book (every order ever created), the market (assets
and bars from the data directory) and a replay clock `now`. Requests are checked as
Alpaca checks them and refused with `ApiError`; time moves only through `advance`
(bot/emulator/replay.py), which is also the only place where orders fill.

Replace (PATCH) follows Alpaca: a new order with a new id, the old one `replaced`.
Unless the request names a new client_order_id, the new order keeps the old one and
the client-id index points to the newest order of the chain, so a bot that finds its
order by client_order_id always gets the live one. Bracket legs and OCO siblings are
re-pointed to the replacement. Not thread-safe: callers hold `lock` (or `locked()`,
which also settles pending cancels and replaces first).

Settings ("knobs": constructor arguments and attributes, also `POST /_emulator/config`)
are listed, with their defaults and the Alpaca docs they follow, in bot/emulator/knobs.py:
by default the emulator is as strict as Alpaca (late cancels and replaces, partial
fills, bracket groups, refusals, today's bar and late prints, rate limits, day orders
that end with their session, the free data plan); each strictness can be turned off.
The `reject_next` fault (bot/emulator/faults.py) rejects orders after acceptance.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.data.series import BarSeries
from bot.data.timeframe import DAILY, Timeframe
from bot.emulator import dayorders, knobs, lifecycle, positions, replay
from bot.emulator.account import Account, Quote
from bot.emulator.book import OrderBook
from bot.emulator.checks import check_funds
from bot.emulator.errors import invalid, not_found
from bot.emulator.jsonfmt import ns_to_utc
from bot.emulator.market import Market, Track, load_market, market_of
from bot.emulator.orders import EmuOrder, OrderSpec
from bot.emulator.ratelimit import RateLimits
from bot.emulator.replace import replace_order
from bot.emulator.submit import submit_order
from bot.models import ET, Side, et_to_ns

HISTORY_LEFT = 60  # sessions left to replay when no start time is given
DATA_PLANS = knobs.DATA_PLANS


class EmulatorState:
    # The knobs, set by knobs.configure (their rules and defaults: bot/emulator/knobs.py).
    bars_page_size: int
    slippage_bps: float
    commission_per_share: float
    commission_min: float
    shorting: bool
    cancel_latency_s: float
    replace_latency_s: float
    strict_replace_status: bool
    replace_oto_legs: bool
    data_plan: str
    partial_fill_rate: float
    partial_fill_seed: int
    partial_rng: random.Random
    bracket_groups: bool
    held_stop_leg: bool
    order_refusals: bool
    todays_bar: bool
    late_print_s: float
    rate_limit_per_min: int
    forbidden_style: bool
    intraday_day_orders: bool

    def __init__(
        self,
        market: Market,
        now: datetime,
        initial_cash: float = 100_000.0,
        slippage_bps: float = 0.0,
        commission_per_share: float = 0.0,
        commission_min: float = 0.0,
        shorting: bool = False,
        match_timeframe: str = "1d",
        bars_page_size: int = 10_000,
        cancel_latency_s: float = 0.3,
        replace_latency_s: float = 0.3,
        strict_replace_status: bool = True,
        replace_oto_legs: bool = False,
        data_plan: str = "free",
        partial_fill_rate: float = 0.1,
        partial_fill_seed: int = 0,
        bracket_groups: bool = True,
        held_stop_leg: bool = True,
        order_refusals: bool = True,
        todays_bar: bool = True,
        late_print_s: float = 600.0,
        rate_limit_per_min: int = 200,
        forbidden_style: bool = False,
        intraday_day_orders: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.market, self.calendar = market, market.calendar
        # Which bars orders fill on ("1d" or "1m"); refused here if it is no timeframe.
        self.match_timeframe = Timeframe(match_timeframe)
        # Every knob is checked by its rule in knobs.py (ValueError if out of range); the
        # arguments of that name are read from this frame rather than listed twice.
        given = locals()
        knobs.configure(self, {name: given[name] for name in knobs.KNOBS})
        self.monotonic = monotonic  # the wall clock of latencies and rate limits (seconds)
        self.limiter = RateLimits(self)
        self.lock = threading.RLock()
        self.now = now
        self.account = Account(initial_cash, now)
        self.reset(initial_cash, now)

    @classmethod
    def from_dir(
        cls, data_dir: str | Path, now: datetime | None = None, **kwargs: Any
    ) -> EmulatorState:
        """Load every `<SYMBOL>_1d.csv` / `<SYMBOL>_1m_*.csv` file in `data_dir`.

        Without `now`, the clock starts at the close of the session `HISTORY_LEFT`
        sessions before the last one in the data: history to look back on, days to replay.
        """
        market, start = load_market(Path(data_dir), now, HISTORY_LEFT)
        return cls(market, start, **kwargs)

    @classmethod
    def from_series(
        cls, series: Mapping[str, BarSeries], now: datetime | None = None, **kwargs: Any
    ) -> EmulatorState:
        """A market of these symbols with these bars only, matched on their timeframe
        (one for all): the emulator of a replay fills orders on the very bars the bot
        decides on."""
        frames = {s.timeframe for s in series.values()}
        if len(frames) != 1:
            raise ValueError(f"one timeframe for every replayed symbol, not {sorted(frames)}")
        (tf,) = frames
        market, start = market_of({sym: {tf: s} for sym, s in series.items()}, now, HISTORY_LEFT)
        return cls(market, start, **{"match_timeframe": tf, **kwargs})

    # -- clock -----------------------------------------------------------------------
    def reset(
        self, cash: float | None = None, now: datetime | None = None, now_ns: int | None = None
    ) -> None:
        """A fresh account and order book; the clock moves to `now` (or `now_ns`, UTC ns)
        without filling anything."""
        if now_ns is not None:
            now = ns_to_utc(now_ns)
        if now is not None:
            self._check_time(now)
            self.now = now
        cash = self.account.initial_cash if cash is None else cash
        if not cash > 0:
            raise invalid("cash must be > 0")
        self.account = Account(cash, self.now)
        self.book = OrderBook()
        self.fills: list[dict[str, Any]] = []
        knobs.reseed(self)  # a fresh replay draws the same partial fills again
        # Bars that started by `now` are history: never matched against new orders.
        self.done = {s: self.track(s).started(self.now_ns) for s in self.market.symbols}

    def _check_time(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise invalid("times must carry a timezone")
        if not self.calendar.covers(et_to_ns(when)):
            raise invalid(f"{when.isoformat()} is outside the emulator's calendar")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock, with pending cancels and replaces that are due settled first."""
        with self.lock:
            lifecycle.settle(self)
            yield

    @property
    def now_ns(self) -> int:
        return et_to_ns(self.now)

    def advance(self, until: datetime) -> dict[str, Any]:
        """Move the clock to `until`, processing every bar that starts by then."""
        self._check_time(until)
        return replay.advance(self, until)

    def clock_json(self) -> dict[str, Any]:
        ns, cal = self.now_ns, self.calendar
        return {
            "timestamp": self.now.astimezone(ET).isoformat(),
            "is_open": cal.is_open(ns),
            "next_open": ns_to_utc(cal.next_open(ns)).astimezone(ET).isoformat(),
            "next_close": ns_to_utc(cal.next_close(ns)).astimezone(ET).isoformat(),
        }

    # -- prices and account ----------------------------------------------------------
    def track(self, symbol: str) -> Track:
        return self.market.match_track(symbol, self.match_timeframe)

    def quote(self, symbol: str) -> Quote | None:
        """The latest known price: the last processed bar's close once that bar has ended,
        its open while it runs (a daily bar is processed at 09:30; its close at 10:00
        would be the future), with the previous session's close as `lastday`."""
        n = self.done.get(symbol, 0)
        if n == 0:
            return None
        track, i = self.track(symbol), n - 1
        bar = track.bar(i)
        current = bar.close if track.ends[i] <= self.now_ns else bar.open
        daily = self.market.tracks[symbol].get(DAILY)
        lastday = current
        if daily is not None:
            k = int(np.searchsorted(daily.bars.session, bar.session, side="left")) - 1
            lastday = float(daily.bars.close[k]) if k >= 0 else current
        return Quote(current, lastday)

    def _valuation(self, symbol: str) -> Quote:
        q = self.quote(symbol)
        if q is not None:
            return q
        avg = self.account.books[symbol].avg_price  # injected before any bar: at cost
        return Quote(avg, avg)

    def day_close(self, symbol: str, market_order: bool = False) -> int:
        """When a `day` order placed now expires (UTC ns): bot/emulator/dayorders.py."""
        return dayorders.day_close(self, symbol, market_order)

    def buying_power(self) -> float:
        return self.account.cash - self.book.reserved()

    def account_json(self) -> dict[str, Any]:
        quotes = {s: self._valuation(s) for s in self.account.open_symbols()}
        return self.account.account_json(
            quotes, self.book.reserved(), self.shorting, asof=self.now.astimezone(ET)
        )

    def positions_json(self) -> list[dict[str, Any]]:
        return [self.position_json(s) for s in self.account.open_symbols()]

    def position_json(self, symbol: str) -> dict[str, Any]:
        symbol = symbol.upper()
        if symbol not in self.account.open_symbols():
            raise not_found("position does not exist")
        exit_side = Side.SELL if self.account.qty(symbol) > 0 else Side.BUY
        held, _ = self.book.held_for_orders(symbol, exit_side)
        return self.account.position_json(symbol, self._valuation(symbol), held)

    def inject_position(self, symbol: str, qty: float, avg_entry_price: float) -> None:
        """Put a position in place that the bot did not open (cash is not touched)."""
        symbol = symbol.upper()
        if symbol not in self.market.tracks:
            raise invalid(f'could not find asset "{symbol}"')
        if qty != 0 and not avg_entry_price > 0:
            raise invalid("avg_entry_price must be > 0")
        self.account.inject(symbol, qty, avg_entry_price, self.now_ns)

    # -- orders ----------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> EmuOrder:
        """POST /v2/orders: validate like Alpaca, then create the order (submit.py)."""
        return submit_order(self, body)

    def check_funds(
        self, spec: OrderSpec, quote: Quote | None, replacing: EmuOrder | None = None
    ) -> float:
        return check_funds(
            spec,
            quote,
            self.account.qty(spec.symbol),
            self.buying_power(),
            self.book,
            self.slippage_bps,
            self.shorting,
            replacing,
        )

    def cancel(self, order_id: str) -> EmuOrder:
        """DELETE /v2/orders/{id}: cancel an open order and its open legs (lifecycle.py)."""
        return lifecycle.cancel(self, order_id)

    def cancel_all(self) -> list[dict[str, Any]]:
        """DELETE /v2/orders: the 207 body, one entry per order whose cancel was accepted."""
        return lifecycle.cancel_all(self)

    def replace(self, order_id: str, body: dict[str, Any]) -> EmuOrder:
        """PATCH /v2/orders/{id}: a new order replaces the open one (see module docstring)."""
        return replace_order(self, order_id, body)

    def close_position(
        self, symbol: str, qty: float | None = None, percentage: float | None = None
    ) -> EmuOrder:
        """DELETE /v2/positions/{symbol}: a market order for all, `qty` or `percentage`."""
        return positions.close_position(self, symbol, qty, percentage)

    def close_all(self, cancel_orders: bool) -> list[dict[str, Any]]:
        """DELETE /v2/positions: the 207 body, one entry per position."""
        return positions.close_all(self, cancel_orders)
