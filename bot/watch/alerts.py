"""A tier alert as the message the user reads (issue 15 item 6): the symbol, the tier, the
level with its source and note, the price, the distance in %, the volume ratio and the rule
that fired; a crossing says it is provisional."""

from __future__ import annotations

from bot.alerts.channels import route
from bot.alerts.model import Alert
from bot.alerts.tiers import TierAlert
from bot.models import ns_to_et
from bot.settings import AlertRoutes
from bot.watchlist import Level

_WORDS = {
    "approaching": "is approaching",
    "crossed": "crossed",
    "confirmed": "confirmed a break of",
    "failed": "failed back through",
    "retest_held": "held a retest of",
}


def message(a: TierAlert, level: Level | None, history: str | None = None) -> tuple[str, str]:
    """(title, body) of a tier alert."""
    way = "up through" if a.direction == "up" else "down through"
    what = f"{_WORDS[a.tier]} {a.level:g}" if a.tier != "crossed" else f"crossed {way} {a.level:g}"
    when = ns_to_et(a.ts).strftime("%Y-%m-%d %H:%M ET")
    title = f"{a.symbol} {what}" + (" (provisional)" if a.provisional else "")
    lines = [f"{when}: {a.rule}"]
    about = []
    if level is not None and level.source:
        about.append(level.source)
    if level is not None and level.note:
        about.append(level.note)
    lines.append(f"level {a.level:g} ({a.level_name})" + (f": {'; '.join(about)}" if about else ""))
    vol = "n/a" if a.volume_ratio is None else f"{a.volume_ratio:.1f}x the mean of the bars before"
    lines.append(f"price {a.price:.2f}, close {a.distance_pct:+.2f}% from the level, volume {vol}")
    if a.provisional:
        lines.append("Provisional: one bar through the level; the strategy has not confirmed it.")
    if history:  # the base rate: the past only (bot/study/baserate.py)
        lines.append(f"History: {history}")
    return title, "\n".join(lines)


def alert_of(
    a: TierAlert, level: Level | None, routes: AlertRoutes, history: str | None = None
) -> Alert:
    title, body = message(a, level, history)
    return Alert.create(a.tier, a.symbol, (a.level, a.direction, a.ts), title=title, body=body,
                        channels=route(routes, a.tier))  # fmt: skip
