"""What the market-data stream sends as the replay clock moves: minute bars once they have
ended, their revisions (`updatedBars`) and the day so far (`dailyBars`). No I/O here:
bot/emulator/datastream.py asks for the points of one connection between two times.

Modelled on https://docs.alpaca.markets/docs/real-time-stock-pricing-data (channels
`bars`, `updatedBars`, `dailyBars`; bar schema T, S, o, h, l, c, v, t, n, vw) and on
Alpaca's note on streamed bars (https://forum.alpaca.markets/t/alpaca-market-data-update-bars/8947):

- a minute bar is stamped with its start and "generated immediately after the end
  time": it is sent once the clock reaches its end (start + 1 minute), never earlier;
- "there can sometimes be late reported trades ... the bar is recalculated and a new
  updated bar is streamed 30 seconds later" with the same timestamp. Alpaca gives no
  rate, only that late reports happen; so revisions are off by default (the stream's
  bars are then exactly the REST bars). With `Revisions.rate` > 0, that share of bars
  (drawn per symbol and bar from `seed`, the same for every connection and every run)
  is first sent as it stood before its late prints (the daily bar's rule, barview.py:
  2% less volume, close a cent off) and then, 30 s after its end, as a `u` message
  with its final values, which are the CSV's and the REST API's;
- daily bars: "a daily bar is returned as partial bar up to the current time" (the
  docs' dailyBars schema). The emulator sends one after each minute bar: the session so
  far, built from its minute bars (barview.aggregate), stamped like the REST daily bar.

Times are UTC nanoseconds on the feed's clock (the replay clock, 15 minutes earlier for
`delayed_sip`). Bars are the emulator's minute tracks (market.py: regular hours only).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any

import numpy as np

from bot.data.timeframe import DAILY, MINUTE
from bot.emulator.barview import aggregate, before_late_prints, session_minutes
from bot.emulator.errors import invalid
from bot.emulator.market import Market, Track, bar_json
from bot.models import ET, et_to_ns, session_date

UPDATE_DELAY_NS = 30 * 10**9  # "a new updated bar is streamed 30 seconds later"
# At one emit time, revisions go first, then minute bars, then the day so far.
_RANK = {"u": 0, "b": 1, "d": 2}
CHANNEL = {"b": "bars", "u": "updatedBars", "d": "dailyBars"}
REVISION_KEYS = ("updated_bar_rate", "updated_bar_seed")
MAX_POINTS_PER_FRAME = 1000  # batches stay far below a client's 1 MiB frame limit


@dataclass(frozen=True)
class Revisions:
    """Which minute bars get an updated bar: `rate` (0..1) of them, drawn from `seed`."""

    rate: float = 0.0
    seed: int = 0

    def revised(self, symbol: str, ts: int) -> bool:
        if self.rate <= 0:
            return False
        # One draw per symbol and bar, not per connection: every subscriber sees the
        # same revisions, and a replay sees the same ones again.
        return random.Random(f"{self.seed}:{symbol}:{ts}").random() < self.rate

    def changed(self, changes: dict[str, Any]) -> Revisions:
        """These settings with `changes` (updated_bar_rate, updated_bar_seed) applied,
        or the 422 that says what is wrong (nothing is applied then)."""
        rate = changes.get("updated_bar_rate", self.rate)
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise invalid("updated_bar_rate must be a number between 0 and 1")
        if not (math.isfinite(rate) and 0 <= rate <= 1):
            raise invalid("updated_bar_rate must be a number between 0 and 1")
        seed = changes.get("updated_bar_seed", self.seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("updated_bar_seed must be a whole number")
        return replace(self, rate=float(rate), seed=seed)

    def as_dict(self) -> dict[str, Any]:
        return {"updated_bar_rate": self.rate, "updated_bar_seed": self.seed}


@dataclass(frozen=True)
class Point:
    """One data message: `kind` is the wire `T` ("b", "u" or "d"), `at` when it is
    sent (feed clock, UTC ns), `ts` the bar's timestamp."""

    at: int
    kind: str
    symbol: str
    ts: int
    values: tuple[float, float, float, float, float]  # open, high, low, close, volume

    @property
    def order(self) -> tuple[int, int, str]:
        return self.at, _RANK[self.kind], self.symbol

    def message(self) -> dict[str, Any]:
        """The message as a dict; `t` stays UTC ns, the codec writes it (datawire.py)."""
        o, h, lo, c, v = self.values
        return {"T": self.kind, "S": self.symbol, **bar_json(self.ts, o, h, lo, c, v), "t": self.ts}


def points(
    market: Market,
    wants: Callable[[str, str], bool],
    revisions: Revisions,
    after: int,
    upto: int,
) -> list[Point]:
    """The messages sent in (after, upto] to a connection whose subscriptions are
    `wants(channel, symbol)`, in the order they go out."""
    out: list[Point] = []
    for symbol in market.symbols:
        track = market.tracks[symbol].get(MINUTE)
        if track is None:
            continue
        b, u, d = (wants(CHANNEL[k], symbol) for k in ("b", "u", "d"))
        if b or d:
            out += _ended(market, track, symbol, revisions, (after, upto), b, d)
        if u:
            out += _updated(track, symbol, revisions, after, upto)
    out.sort(key=lambda p: p.order)
    return out


def _values(track: Track, i: int) -> tuple[float, float, float, float, float]:
    m = track.bars
    return (
        float(m.open[i]),
        float(m.high[i]),
        float(m.low[i]),
        float(m.close[i]),
        float(m.volume[i]),
    )


def _first_version(
    track: Track, i: int, symbol: str, revisions: Revisions
) -> tuple[float, float, float, float, float] | None:
    """The bar as first sent, when it differs from its final values (a revised bar)."""
    final = _values(track, i)
    if not revisions.revised(symbol, int(track.bars.ts[i])):
        return None
    o, h, lo, c, v = final
    early = (o, h, lo, *before_late_prints(h, lo, c, v))
    return early if early != final else None  # nothing to revise on a flat, empty bar


def _ended(
    market: Market,
    track: Track,
    symbol: str,
    revisions: Revisions,
    span: tuple[int, int],
    bars: bool,
    daily: bool,
) -> list[Point]:
    out: list[Point] = []
    ends = track.ends
    for i in range(bisect_right(ends, span[0]), bisect_right(ends, span[1])):
        ts, end = int(track.bars.ts[i]), ends[i]
        if bars:
            values = _first_version(track, i, symbol, revisions) or _values(track, i)
            out.append(Point(end, "b", symbol, ts, values))
        if daily:
            session = int(track.bars.session[i])
            first = session_minutes(track, session).start
            day = _daily_ts(market, symbol, session)
            out.append(Point(end, "d", symbol, day, aggregate(track, first, i + 1)))
    return out


def _updated(track: Track, symbol: str, revisions: Revisions, after: int, upto: int) -> list[Point]:
    out: list[Point] = []
    ends = track.ends
    lo = bisect_right(ends, after - UPDATE_DELAY_NS)
    for i in range(lo, bisect_right(ends, upto - UPDATE_DELAY_NS)):
        if _first_version(track, i, symbol, revisions) is not None:
            at = ends[i] + UPDATE_DELAY_NS
            out.append(Point(at, "u", symbol, int(track.bars.ts[i]), _values(track, i)))
    return out


def _daily_ts(market: Market, symbol: str, session: int) -> int:
    """The daily bar's timestamp: the REST daily bar's when the symbol has daily bars for
    that session, else midnight US/Eastern of the session's date, as the data files
    stamp daily bars."""
    daily = market.tracks[symbol].get(DAILY)
    if daily is not None:
        k = int(np.searchsorted(daily.bars.session, session, side="left"))
        if k < len(daily.bars) and int(daily.bars.session[k]) == session:
            return int(daily.bars.ts[k])
    return et_to_ns(datetime.combine(session_date(session), time(0), tzinfo=ET))


def batches(found: list[Point]) -> list[list[dict[str, Any]]]:
    """Points sent at one time go out in one frame (at most MAX_POINTS_PER_FRAME each):
    "data points ... may arrive in arrays that have a length that is greater than one"."""
    out: list[list[dict[str, Any]]] = []
    last = None
    for p in found:
        if p.at != last or len(out[-1]) >= MAX_POINTS_PER_FRAME:
            out.append([])
            last = p.at
        out[-1].append(p.message())
    return out
