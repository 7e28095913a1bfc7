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

Strictness knobs (constructor arguments and attributes, also `POST /_emulator/config`).
Each defaults to the lenient behaviour the emulator always had, except the replace
status check, which the whole test suite passes with:
- `cancel_latency_s` (0): > 0 makes cancels asynchronous (`pending_cancel` for that many
  wall-clock seconds, then `canceled`); see bot/emulator/lifecycle.py.
- `replace_latency_s` (0): > 0 leaves a replaced order `pending_replace` that long, then
  `replaced`; see bot/emulator/replace.py.
- `strict_replace_status` (True): refuse to replace an order that is `accepted` or
  `pending_new`, as Alpaca does (`pending_cancel` / `pending_replace` are always
  refused); False allows it, as the emulator used to.
- `replace_oto_legs` (True): False refuses to replace a leg of an `oto` order.
- `data_plan` ("unlimited"): "free" refuses recent SIP bars (bot/emulator/bars.py).
The `reject_next` fault (bot/emulator/faults.py) rejects orders after acceptance.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.calendar import MarketCalendar
from bot.emulator import lifecycle, replay
from bot.emulator.account import Account, Quote
from bot.emulator.book import OrderBook
from bot.emulator.checks import check_funds
from bot.emulator.errors import ApiError, invalid, not_found
from bot.emulator.jsonfmt import ns_to_utc
from bot.emulator.market import Market, Track, find_series
from bot.emulator.orders import EmuOrder, OrderSpec
from bot.emulator.replace import replace_order
from bot.emulator.submit import submit_order
from bot.models import ET, Side, et_to_ns, session_date

HISTORY_LEFT = 60  # sessions left to replay when no start time is given
DATA_PLANS = ("free", "unlimited")


class EmulatorState:
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
        cancel_latency_s: float = 0.0,
        replace_latency_s: float = 0.0,
        strict_replace_status: bool = True,
        replace_oto_legs: bool = True,
        data_plan: str = "unlimited",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.market, self.calendar = market, market.calendar
        self.slippage_bps = slippage_bps
        self.commission_per_share, self.commission_min = commission_per_share, commission_min
        self.shorting = shorting
        self.match_timeframe = match_timeframe  # "1d" | "1m": which bars orders fill on
        self.bars_page_size = bars_page_size  # server-side page cap (tests force paging)
        if cancel_latency_s < 0 or replace_latency_s < 0:
            raise ValueError("cancel_latency_s and replace_latency_s must be >= 0")
        if data_plan not in DATA_PLANS:
            raise ValueError(f"data_plan must be one of {', '.join(DATA_PLANS)}")
        self.cancel_latency_s = float(cancel_latency_s)
        self.replace_latency_s = float(replace_latency_s)
        self.strict_replace_status, self.replace_oto_legs = strict_replace_status, replace_oto_legs
        self.data_plan = data_plan
        self.monotonic = monotonic  # the wall clock of the latencies (seconds)
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
        series = find_series(Path(data_dir))
        days = [int(d) for tfs in series.values() for s in tfs.values() for d in s.session[[0, -1]]]
        if not days:
            raise ValueError(f"no <SYMBOL>_1d.csv or <SYMBOL>_1m_*.csv bars in {data_dir}")
        first, last = session_date(min(days)), session_date(max(days))
        start = min(first, now.date()) if now else first
        end = max(last, now.date(), date.today()) if now else max(last, date.today())
        calendar = MarketCalendar(start - timedelta(days=10), end + timedelta(days=730))
        if now is None:
            sessions = calendar.sessions(first, last)
            close_ns = sessions[max(len(sessions) - 1 - HISTORY_LEFT, 0)][2]
            now = ns_to_utc(close_ns)
        return cls(Market(series, calendar), now, **kwargs)

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
        daily = self.market.tracks[symbol].get("1d")
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

    def day_close(self, symbol: str) -> int:
        """When a `day` order placed now expires: the close of the first session in which
        it can trade, i.e. that of the next bar still to be processed. Received after the
        close it belongs to the next session (as at Alpaca); with daily bars, also when
        received during a session whose bar was processed at its open (the emulator has no
        intraday prices to fill it with, so it gets the next session instead of none)."""
        track, n = self.track(symbol), self.done[symbol]
        nxt = track.starts[n] if n < len(track.starts) else self.now_ns
        return self.calendar.next_close(max(nxt, self.now_ns))

    def buying_power(self) -> float:
        return self.account.cash - self.book.reserved()

    def account_json(self) -> dict[str, Any]:
        quotes = {s: self._valuation(s) for s in self.account.open_symbols()}
        return self.account.account_json(quotes, self.book.reserved(), self.shorting)

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
        symbol = symbol.upper()
        if symbol not in self.account.open_symbols():
            raise not_found("position does not exist")
        held = self.account.qty(symbol)
        if qty is not None and percentage is not None:
            raise invalid("only one of qty or percentage may be given")
        amount = abs(held)
        if qty is not None:
            amount = qty
        elif percentage is not None:
            if not 0 < percentage <= 100:
                raise invalid("percentage must be in (0, 100]")
            amount = math.floor(abs(held) * percentage / 100)
        if not 0 < amount <= abs(held) + 1e-9:
            raise invalid(f"qty must be > 0 and at most the position ({abs(held):g})")
        side = "sell" if held > 0 else "buy"
        body = {"symbol": symbol, "qty": amount, "side": side, "type": "market"}
        return self.submit({**body, "time_in_force": "day"})

    def close_all(self, cancel_orders: bool) -> list[dict[str, Any]]:
        """DELETE /v2/positions: the 207 body, one entry per position."""
        if cancel_orders:
            self.cancel_all()
        out: list[dict[str, Any]] = []
        for symbol in self.account.open_symbols():
            try:
                order = self.close_position(symbol)
            except ApiError as exc:
                out.append({"symbol": symbol, "status": exc.status, "body": exc.body()})
            else:
                body = order.to_json()
                out.append({"symbol": symbol, "status": 200, "order_id": order.id, "body": body})
        return out
