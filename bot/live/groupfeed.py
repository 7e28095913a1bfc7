"""Live daily bars of several symbols, a session at a time: the feed of `bot paper --broker
alpaca` with a watchlist of several (one `AlpacaFeed` per symbol, bot/live/feed.py).

A merge of the symbols' own `trading_bars` would not do for live feeds: each blocks
until its next session, so a merge would hold one symbol's bar back until another's
next one came. Here one schedule (the first symbol's feed: the broker's clock and the
NYSE calendar, as for one symbol) says when a session is due; then every symbol's bar
of that session is read, those not there yet are asked for again with the same growing
waits, and after one `reread_s` pause every bar found is read again (a late print
revises it), so a session costs one pause, not one per symbol. The bars missed while the
bot was down come first, by time, from each symbol's history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

from bot.engine.timeline import by_time
from bot.live.feed import MISSING_WAIT_S, AlpacaFeed
from bot.models import Bar


def live_groups(feeds: Mapping[str, AlpacaFeed], firsts: Mapping[str, int]) -> Iterator[list[Bar]]:
    """Every symbol's bars, one list per session, in the order of `feeds`."""
    yield from by_time({sym: feed.missed_bars(firsts[sym]) for sym, feed in feeds.items()})
    lead = next(iter(feeds.values()))
    last = max(feed.last_day() for feed in feeds.values())
    for day in lead.due_days(last):
        group = _session(feeds, lead, day)
        if group:
            yield group


def _session(feeds: Mapping[str, AlpacaFeed], lead: AlpacaFeed, day: date) -> list[Bar]:
    found: dict[str, Bar] = {}
    waiting = list(feeds)
    for wait in (*MISSING_WAIT_S, None):
        for sym in waiting:
            bar = feeds[sym].first_read(day)
            if bar is not None:
                found[sym] = bar
        waiting = [sym for sym in waiting if sym not in found]
        if not waiting or wait is None:
            break
        for sym in waiting:
            feeds[sym].not_yet(day, wait)
        lead.sleep_for(wait, f"waiting for the {day} bars of {', '.join(waiting)}")
    for sym in waiting:
        feeds[sym].missing(day)
    if found:
        lead.sleep_for(lead.reread_s, "re-reading")
        found = {sym: feeds[sym].reread(day, bar) for sym, bar in found.items()}
    return [found[sym] for sym in feeds if sym in found]
