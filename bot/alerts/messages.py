"""The messages the deliverer sends: one alert, a digest of several, an in-doubt notice.

Every message names the ids of the alerts it carries (a line `alert id: ...`), so a user,
a test receiver or a support question can tell one alert from another and see that none
came twice. A digest's id and a notice's id are derived from the ids they cover, so the
same set gives the same id after a restart. Imports bot.store.outbox (its row types).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.store.outbox import NewRow, OutboxRow

NOTICE_KIND = "in_doubt"  # the kind of the notice rows (no alert kind: never routed)

# Apprise's notify types: the channels that show a colour or an icon show these.
_TYPES = {
    "failed": "warning",
    "guard": "warning",
    "halt": "warning",
    "stream_silent": "warning",
    "reconcile": "failure",
    "crash": "failure",
    "health_failed": "failure",
    "health_restored": "success",
    NOTICE_KIND: "warning",
}
_ORDER = ("info", "success", "warning", "failure")


def _hash(ids: list[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(ids)).encode("utf-8")).hexdigest()[:16]


def notify_type(rows: list[OutboxRow]) -> str:
    """The gravest of the rows' kinds, as Apprise's notify type."""
    return max((_TYPES.get(r.kind, "info") for r in rows), key=_ORDER.index)


def single(row: OutboxRow, takes_attachments: bool) -> tuple[str, str, str | None]:
    """(title, body, attachment path or None) of one alert's own message."""
    body, attach = row.body.rstrip(), None
    if row.attachment:
        path = Path(row.attachment)
        if not path.is_file():
            # Sent without it: a chart deleted meanwhile must not block the alert forever.
            body += f"\n(chart {path.name} not found)"
        elif takes_attachments:
            attach = str(path)
        else:
            body += f"\nchart: {path}"
    return row.title, f"{body}\n\nalert id: {row.alert_id}", attach


def digest(rows: list[OutboxRow], rate: int) -> tuple[str, str, str]:
    """(message id, title, body) of one message carrying `rows` (over the rate limit)."""
    lines = [
        f"{len(rows)} alerts in one message: this channel takes {rate} messages a minute.",
        "",
    ]
    for r in rows:
        first = r.body.strip().splitlines()[0] if r.body.strip() else ""
        lines.append(f"- {r.title}")
        if first and first != r.title:
            lines.append(f"  {first}")
        lines.append(f"  alert id: {r.alert_id}")
    return f"digest-{_hash([r.alert_id for r in rows])}", f"{len(rows)} alerts", "\n".join(lines)


def in_doubt_notice(rows: list[OutboxRow], now: float, expire_after_s: float) -> NewRow:
    """The notice naming alerts whose send was cut short by a stop of the bot (the rule:
    bot/store/outbox.py). It is a row of its own, sent once like any alert."""
    ids = [r.alert_id for r in rows]
    lines = [
        "The bot stopped while sending these alerts. They may or may not have arrived, "
        "and are not sent again (an alert is never sent twice):",
        "",
    ]
    for r in rows:
        lines.append(f"- {r.title}")
        lines.append(f"  id: {r.alert_id}")  # not "alert id:": this message does not carry it
    return NewRow(
        alert_id=f"{NOTICE_KIND}-{_hash(ids)}",
        channel=rows[0].channel,
        kind=NOTICE_KIND,
        symbol="",
        title=f"{len(rows)} alert(s) may not have arrived",
        body="\n".join(lines),
        attachment=None,
        created_at=now,
        expires_at=now + expire_after_s,
    )


__all__ = ["NOTICE_KIND", "digest", "in_doubt_notice", "notify_type", "single"]
