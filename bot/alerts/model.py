"""The alert value type and its deterministic id.

An `Alert` is one readable message about one thing the bot saw or did (a level tier, a
fill, a halt, a crash...): who makes it (the alert sink, `bot watch`, `bot paper`) gives
its kind, symbol, title, body, optional PNG chart and the channels it is routed to
(bot.alerts.channels.route). Its `alert_id` is derived from what the alert is about, never
from when it was made, so the same alert made again (a restart replaying the same bars)
has the same id and the outbox (bot/store/outbox.py) delivers it at most once.

The id rule (`alert_id_of`): `<kind>-<SYMBOL>-<16 hex>` (`<kind>-<16 hex>` without a
symbol), the hex being the first 64 bits of SHA-256 over the kind, the symbol and the
caller's `parts`, each turned into text with `str()` and joined with the unit separator
(0x1f). The caller picks parts that name the event and nothing else, e.g. the level's tag
and the bar's time as integer nanoseconds: `alert_id_of("confirmed", "BABA",
"resistance_163.43", 1768280400000000000)`. A float part is written by `repr`
(`163.43`), stable across runs; a wall-clock time in the parts would make every
restart a new alert.

Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# The kinds of alert, each with a route in the [alerts.routes] table (bot/settings.py):
# the level tiers of `bot watch` (issue 15 item 4), then what `bot paper` adds, then
# the watcher's dead-man pair and the health check's pair (`bot service health --alert`).
ALERT_KINDS: tuple[str, ...] = (
    "approaching",  # within x% of a level
    "crossed",  # crossed intraday: provisional, labelled so
    "confirmed",  # the strategy's rule on the chosen timeframe
    "failed",  # back through the level after a cross or a confirmation
    "retest_held",  # touched the broken level from the far side and closed beyond it
    "fill",  # an order of the bot filled
    "exit_hit",  # a stop or a take-profit filled
    "guard",  # a guard refused an order
    "halt",  # the kill switch or the loss limit halted entries
    "reconcile",  # start-up reconciliation failed
    "crash",  # the run ended with an error
    "daily_summary",  # the day's summary
    "stream_silent",  # the bar stream went silent (dead-man alert)
    "stream_restored",  # the bar stream is back after a silence
    "health_failed",  # `bot service health --alert`: the service is unhealthy (once an episode)
    "health_restored",  # `bot service health --alert`: healthy again after a failure
)

# A channel's name: lower case, as in `BOT_ALERT_URLS_<NAME>` (upper case there).
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_SEP = "\x1f"


def alert_id_of(kind: str, symbol: str, *parts: object) -> str:
    """The deterministic id of the alert of `kind` about `symbol` and `parts` (see the
    module docstring for the rule)."""
    text = _SEP.join([kind, symbol, *(str(p) for p in parts)])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"{kind}-{symbol}-{digest}" if symbol else f"{kind}-{digest}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert: what to say (`title`, `body`, optional PNG `attachment`), where to send
    it (`channels`), and its id. `created` is when it was made (wall clock, tz-aware): its
    expiry counts from there. Make one with `Alert.create` unless the id is known."""

    alert_id: str
    kind: str
    symbol: str
    title: str
    body: str
    channels: tuple[str, ...]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    attachment: Path | None = None
    # Seconds its delivery may wait for `attachment` to be written (a chart drawn off the
    # bar loop): released at once when it is (`Deliverer.release`), sent without it after.
    hold_s: float = 0.0

    def __post_init__(self) -> None:
        # Refused here, in the caller's thread, rather than found out by the deliverer.
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; one of {', '.join(ALERT_KINDS)}")
        if not self.alert_id or not self.title.strip():
            raise ValueError("an alert needs an id and a title")
        if not self.channels:
            raise ValueError(f"alert {self.alert_id} is routed to no channel")
        for name in self.channels:
            if not CHANNEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a channel name (a-z, 0-9, _; 32 at most)")
        if self.created.tzinfo is None:
            raise ValueError(f"alert {self.alert_id}: created must be timezone-aware")

    @classmethod
    def create(
        cls,
        kind: str,
        symbol: str,
        key: Sequence[object],
        *,
        title: str,
        body: str,
        channels: Sequence[str],
        attachment: Path | None = None,
        created: datetime | None = None,
        hold_s: float = 0.0,
    ) -> Alert:
        """An alert whose id is `alert_id_of(kind, symbol, *key)`."""
        return cls(
            alert_id=alert_id_of(kind, symbol, *key),
            kind=kind,
            symbol=symbol,
            title=title,
            body=body,
            channels=tuple(dict.fromkeys(channels)),
            created=created or datetime.now(UTC),
            attachment=attachment,
            hold_s=hold_s,
        )


__all__ = ["ALERT_KINDS", "CHANNEL_NAME", "Alert", "alert_id_of"]
