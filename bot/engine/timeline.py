"""Several symbols' bars as one timeline: groups of bars of one time, by time, each group
in the symbols' order (the watchlist's), so a run over several symbols is deterministic.

Used by the portfolio backtest (bot/engine/multirun.py) and the paper runner's replay of
several symbols (bot/live/runner.py). Every stream must be in time order, as a
`BarSeries` is. A live feed, which blocks until its next bar, is not for this merge: it
reads each stream's next bar before it hands out the current time's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from itertools import groupby

from bot.models import Bar


def by_time(streams: Mapping[str, Iterable[Bar]]) -> Iterator[list[Bar]]:
    """The bars of every stream, one list per time, ordered as `streams` is."""
    order = {sym: k for k, sym in enumerate(streams)}
    keyed = [((bar.ts, order[sym], bar) for bar in bars) for sym, bars in streams.items()]
    merged = heapq.merge(*keyed, key=lambda item: (item[0], item[1]))
    for _, group in groupby(merged, key=lambda item: item[0]):
        yield [bar for _, _, bar in group]
