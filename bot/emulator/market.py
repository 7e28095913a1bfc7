"""What the emulated market knows: assets and bars from CSV files, and when each bar is "live".

Files in the data directory named `<SYMBOL>_1d.csv` (daily) and `<SYMBOL>_1m_*.csv`
(one or more 1-minute files) are read with `bot.data.load.load_csv`. Each bar gets a start
and an end time (UTC ns): a minute bar spans [ts, ts + 1 min); a daily bar spans its
session, 09:30 ET to the calendar's real close (13:00 on early-close days).
The start decides when the replay clock processes the bar (fills); the end decides
when the data API may show it (never a bar that has not closed: no look-ahead).
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.data.calendar import MarketCalendar
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.data.timeframe import DAILY
from bot.emulator.jsonfmt import ns_to_utc, utc_iso
from bot.models import Bar, session_date

_FILE = re.compile(r"^(?P<sym>[A-Z][A-Z.]*)_(?P<tf>1d|1m)(?:_.*)?\.csv$")
# Stable ids derived from the symbol, so that restarts keep the same asset ids.
_ASSET_NS = uuid.UUID("6f1d1f3e-2b4e-4d7c-9a2e-5b0c1d2e3f40")


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(_ASSET_NS, symbol))


def find_series(data_dir: Path) -> dict[str, dict[str, BarSeries]]:
    """symbol -> timeframe ("1d" | "1m") -> bars, from the files in `data_dir`."""
    found: dict[str, dict[str, list[BarSeries]]] = {}
    for path in sorted(data_dir.glob("*.csv")):
        m = _FILE.match(path.name)
        if m is None or (m["tf"] == "1d" and path.stem != f"{m['sym']}_1d"):
            continue
        bars = load_csv(path, regular_hours_only=True, symbol=m["sym"]).bars
        found.setdefault(m["sym"], {}).setdefault(m["tf"], []).append(bars)
    return {sym: {tf: _concat(parts) for tf, parts in tfs.items()} for sym, tfs in found.items()}


def load_market(data_dir: Path, now: datetime | None, history: int) -> tuple[Market, datetime]:
    """The market of the CSV files in `data_dir` (`find_series`): see `market_of`."""
    series = find_series(data_dir)
    if not any(len(s) for tfs in series.values() for s in tfs.values()):
        raise ValueError(f"no <SYMBOL>_1d.csv or <SYMBOL>_1m_*.csv bars in {data_dir}")
    return market_of(series, now, history)


def market_of(
    series: dict[str, dict[str, BarSeries]], now: datetime | None, history: int
) -> tuple[Market, datetime]:
    """The market of these bars (symbol -> timeframe -> bars), with a calendar that
    covers them, `now` and two years beyond; and the clock's start: `now`, or the close
    of the session `history` sessions before the last one in the data."""
    ends = [s.session[[0, -1]] for tfs in series.values() for s in tfs.values() if len(s)]
    days = [int(d) for pair in ends for d in pair]
    if not days:
        raise ValueError("no bars: the emulator needs at least one bar to trade on")
    first, last = session_date(min(days)), session_date(max(days))
    start = min(first, now.date()) if now else first
    end = max(last, now.date(), date.today()) if now else max(last, date.today())
    calendar = MarketCalendar(start - timedelta(days=10), end + timedelta(days=730))
    if now is None:
        sessions = calendar.sessions(first, last)
        now = ns_to_utc(sessions[max(len(sessions) - 1 - history, 0)][2])
    return Market(series, calendar), now


def _concat(parts: list[BarSeries]) -> BarSeries:
    """Several files of one symbol/timeframe as one series; a later file wins a tie."""
    if len(parts) == 1:
        return parts[0]
    names = ("ts", "open", "high", "low", "close", "volume", "session")
    cols = [np.concatenate([getattr(p, c) for p in parts]) for c in names]
    order = np.argsort(cols[0], kind="stable")
    ts = cols[0][order]
    keep = np.ones(len(order), dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]
    order = order[keep]
    ts, o, h, lo, c, v, sess = (col[order] for col in cols)
    source = "+".join(p.source for p in parts)
    return BarSeries(ts, o, h, lo, c, v, sess, parts[0].timeframe, source, parts[0].symbol)


@dataclass
class Track:
    """One symbol's bars in one timeframe with their live spans."""

    bars: BarSeries
    starts: list[int]
    ends: list[int]

    def started(self, ns: int) -> int:
        """How many bars have started by `ns` (the index of the first that has not)."""
        return bisect_right(self.starts, ns)

    def bar(self, i: int) -> Bar:
        return self.bars.bar(i)


class Market:
    """Assets and bar tracks, plus the calendar that places daily bars in time."""

    def __init__(self, series: dict[str, dict[str, BarSeries]], calendar: MarketCalendar) -> None:
        self.calendar = calendar
        self.tracks: dict[str, dict[str, Track]] = {}
        for sym, tfs in series.items():
            self.tracks[sym] = {tf: self._track(bars) for tf, bars in tfs.items()}

    def _track(self, bars: BarSeries) -> Track:
        if bars.timeframe.daily:
            hours = [self.calendar.session_hours(session_date(int(d))) for d in bars.session]
            return Track(bars, [h[0] for h in hours], [h[1] for h in hours])
        step = bars.interval_ns
        starts = bars.ts.tolist()
        return Track(bars, starts, [t + step for t in starts])

    @property
    def symbols(self) -> list[str]:
        return sorted(self.tracks)

    def match_track(self, symbol: str, prefer: str) -> Track:
        """The bars that orders are matched on: `prefer` if the symbol has it, else the
        daily bars, else its only (or first) other timeframe."""
        tfs = self.tracks[symbol]
        return tfs.get(prefer) or tfs.get(DAILY) or next(iter(tfs.values()))

    def _visible_range(
        self, symbol: str, tf: str, start_ns: int, end_ns: int, now_ns: int, started: bool
    ) -> tuple[Track | None, int, int]:
        """Bars stamped in [start, end] that have closed by `now` (ends ascend with ts),
        or with `started`, that have started by `now` (today's bar as it stands)."""
        track = self.tracks.get(symbol, {}).get(tf)
        if track is None:
            return None, 0, 0
        lo = int(np.searchsorted(track.bars.ts, start_ns, side="left"))
        hi = int(np.searchsorted(track.bars.ts, end_ns, side="right"))
        shown = bisect_right(track.starts if started else track.ends, now_ns)
        return track, lo, max(lo, min(hi, shown))

    def bars_page(
        self,
        symbols: list[str],
        tf: str,
        span: tuple[int, int, int],
        limit: int,
        offset: int,
        descending: bool = False,
        view: RowView | None = None,
    ) -> tuple[dict[str, list[dict[str, Any]]], int | None]:
        """One page of `GET /v2/stocks/bars`: by symbol, then time; `span` is (start, end,
        visible) in UTC ns. `view` (daily bars) shows bars as they stand at `visible`
        (bot/emulator/barview.py); without it only closed bars are shown, as they are.
        Returns the bars and the offset of the next page (None: last)."""
        out: dict[str, list[dict[str, Any]]] = {}
        skip, room, total = offset, limit, 0
        started = view is not None and view.todays_bar
        for symbol in sorted(set(symbols)):
            track, lo, hi = self._visible_range(symbol, tf, *span, started=started)
            total += hi - lo
            if track is None or room == 0 or skip >= hi - lo:
                skip = max(skip - (hi - lo), 0)
                continue
            idx = list(range(hi - 1, lo - 1, -1) if descending else range(lo, hi))
            take = idx[skip : skip + room]
            out[symbol] = [
                view.row(symbol, track, i) if view else _bar_json(track.bars, i) for i in take
            ]
            skip, room = 0, room - len(take)
        end = offset + limit
        return out, (end if end < total else None)

    def asset_json(self, symbol: str) -> dict[str, Any]:
        return {
            "id": asset_id(symbol),
            "class": "us_equity",
            "exchange": "NYSE",
            "symbol": symbol,
            "name": f"{symbol} (emulated from CSV)",
            "status": "active",
            "tradable": True,
            "marginable": False,  # cash account: buying power = cash, multiplier 1
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": False,
            "min_order_size": "1",
            "min_trade_increment": "1",
            "price_increment": "0.01",
            "attributes": [],
        }


class RowView(Protocol):
    """How bars are shown to a request (bot/emulator/barview.py's DailyView)."""

    @property
    def todays_bar(self) -> bool: ...

    def row(self, symbol: str, track: Track, i: int) -> dict[str, Any]: ...


def _bar_json(b: BarSeries, i: int) -> dict[str, Any]:
    return bar_json(
        int(b.ts[i]),
        float(b.open[i]),
        float(b.high[i]),
        float(b.low[i]),
        float(b.close[i]),
        float(b.volume[i]),
    )


def bar_json(ts: int, o: float, h: float, lo: float, c: float, v: float) -> dict[str, Any]:
    """A bar as the data API writes it."""
    return {
        "t": utc_iso(ns_to_utc(ts)),
        "o": o,
        "h": h,
        "l": lo,
        "c": c,
        "v": int(v) if v.is_integer() else v,
        # Alpaca sends an integer trade count and a number VWAP
        # (https://docs.alpaca.markets/reference/stockbars). The CSV files have neither:
        # no count is known (0), and the typical price (h + l + c) / 3 stands in for VWAP.
        "n": 0,
        "vw": round((h + lo + c) / 3, 4),
    }
