"""What the data API shows of a daily bar: the bar as it stands during its session, and a
final bar revised once after the close, as Alpaca's data does.

During a session Alpaca's historical bars endpoint already returns today's daily bar,
aggregated from the trades so far, and it changes as the day trades
(https://docs.alpaca.markets/docs/historical-stock-data-1); a bot that takes it for a
final bar decides on half a day. With `state.todays_bar` on (the default), a daily bar
is served from its start (09:30 ET), as of the request's visibility time (the clock,
or 15 minutes earlier for delayed or free-plan SIP, bot/emulator/bars.py):

- when minute bars of that session are loaded, it is built from those that have ended
  by then: open of the first, highest high, lowest low, close of the last, summed
  volume (no minute bar ended yet: open = high = low = close = the day's open, volume 0);
- otherwise it is a provisional bar moving from the day's open toward the final values,
  in proportion to the elapsed share f of the session (0 at the open, 1 at the close):
  open = O, high = O + f(H - O), low = O + f(L - O), close = O + f(C - O), volume =
  floor(f V). Deterministic, never outside the final bar's range, always high >= open,
  close >= low (monotone in f, so the bar only widens as the day goes).

After the close the first version of the final bar lacks the late prints: "bars are
updated when late trades arrive" (the `updatedBars` of
https://docs.alpaca.markets/docs/real-time-stock-pricing-data; the official close comes
after 16:00). Until `state.late_print_s` (600 s by default) of EMULATOR time after the
close, the bar is served with 2% less volume (rounded) and a close $0.01 lower (higher
if that would leave the bar's range; unchanged if neither fits); from then on, the true
bar. So a bar fetched at the close and again later differs once. Minute bars are served
only once ended, as before; bars that have not started are never served.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.data.timeframe import MINUTE
from bot.emulator.market import Market, Track, bar_json


@dataclass(frozen=True)
class DailyView:
    """How daily bars look to one request: as of `visible` (what may be shown), with the
    late-print revision judged on the emulator's clock `now`."""

    market: Market
    visible: int  # UTC ns
    now: int  # UTC ns
    todays_bar: bool
    late_print_ns: int

    def row(self, symbol: str, track: Track, i: int) -> dict[str, Any]:
        b = track.bars
        o, h, lo, c, v = (float(x[i]) for x in (b.open, b.high, b.low, b.close, b.volume))
        start, end = track.starts[i], track.ends[i]
        if end > self.visible:
            o, h, lo, c, v = self._so_far(symbol, int(b.session[i]), start, end, (o, h, lo, c, v))
        elif self.now < end + self.late_print_ns:
            c, v = before_late_prints(h, lo, c, v)
        return bar_json(int(b.ts[i]), o, h, lo, c, v)

    def _so_far(
        self, symbol: str, session: int, start: int, end: int, final: tuple[float, ...]
    ) -> tuple[float, float, float, float, float]:
        o, h, lo, c, v = final
        minutes = self.market.tracks[symbol].get(MINUTE)
        if minutes is not None:
            span = session_minutes(minutes, session)
            if span:  # the session's minute bars are loaded: build from them
                upto = bisect_right(minutes.ends, self.visible, span.start, span.stop)
                if upto == span.start:
                    return o, o, o, o, 0.0
                return aggregate(minutes, span.start, upto)
        f = min(max((self.visible - start) / (end - start), 0.0), 1.0)
        return (
            o,
            round(o + f * (h - o), 4),
            round(o + f * (lo - o), 4),
            round(o + f * (c - o), 4),
            float(math.floor(f * v)),
        )


def before_late_prints(h: float, lo: float, c: float, v: float) -> tuple[float, float]:
    """(close, volume) of a bar before its late prints came in: 2% less volume (rounded)
    and a close $0.01 lower (higher if that would leave [lo, h]; unchanged if neither
    fits). The daily bar's first version after the close uses it, and so do the
    minute bars that the data stream revises with `updatedBars` (bot/emulator/datapoints.py)."""
    v = float(round(v * 0.98))
    if round(c - 0.01, 4) >= lo:
        c = round(c - 0.01, 4)
    elif round(c + 0.01, 4) <= h:
        c = round(c + 0.01, 4)
    return c, v


def session_minutes(minutes: Track, session: int) -> range:
    """The indexes of one session's bars in a minute track (empty if none is loaded)."""
    sess = minutes.bars.session
    first = int(np.searchsorted(sess, session, side="left"))
    return range(first, int(np.searchsorted(sess, session, side="right")))


def aggregate(minutes: Track, first: int, upto: int) -> tuple[float, float, float, float, float]:
    """Minute bars [first, upto) as one bar (upto > first): open of the first, highest
    high, lowest low, close of the last, summed volume."""
    m = minutes.bars
    return (
        float(m.open[first]),
        float(m.high[first:upto].max()),
        float(m.low[first:upto].min()),
        float(m.close[upto - 1]),
        float(m.volume[first:upto].sum()),
    )
