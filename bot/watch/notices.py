"""The alerts `bot watch` makes, beside the message text of bot/watch/alerts.py: a tier
alert with its chart, the dead-man pair (`stream_silent`, `stream_restored`) and the
day's summary. Each id comes from what it is about (the level and bar; the last bar
before a silence; the session), so a restart that meets the same thing makes the same id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.alerts.channels import route
from bot.alerts.model import Alert, alert_id_of
from bot.alerts.tiers import TierAlert
from bot.models import ns_to_et
from bot.settings import AlertRoutes, Settings
from bot.watch.alerts import alert_of
from bot.watch.charts import ChartJob, job_of
from bot.watch.pipeline import SymbolWatch

LOG = logging.getLogger("bot.watch")
CHART_DAYS = 7  # charts older than this are removed at a session's end


def tier_alert(
    settings: Settings, watch: SymbolWatch, tier: TierAlert, folder: Path
) -> tuple[Alert, ChartJob | None]:
    """The tier's alert and the job that draws its chart: a PNG of the bars the watcher
    decided on (minutes; the timeframe's bars for a confirmation), drawn off the bar loop
    (bot/watch/charts.py) while the alert waits up to `[watch] chart_wait_s` for it."""
    level = next((lv for lv in watch.levels if abs(lv.price - tier.level) < 1e-9), None)
    alert = alert_of(tier, level, settings.alerts.routes, watch.history_of(tier))
    if not settings.watch.charts:
        return alert, None
    bars = watch.recent_bars if tier.tier == "confirmed" else watch.recent_minutes
    path = folder / "charts" / f"{alert.alert_id}.png"
    job = job_of(alert.alert_id, bars, tier.level, tier.ts, alert.title, path)
    return replace(alert, attachment=path, hold_s=settings.watch.chart_wait_s), job


def prune_charts(folder: Path, now: float | None = None) -> None:
    cutoff = (time.time() if now is None else now) - CHART_DAYS * 86_400
    for png in (folder / "charts").glob("*.png"):
        try:
            if png.stat().st_mtime < cutoff:
                png.unlink()
        except OSError:
            pass


def stream_silent(routes: AlertRoutes, last_ts: int, mute_s: float, poll_s: float) -> Alert:
    last = "no bar yet" if last_ts <= 0 else f"last bar {ns_to_et(last_ts):%H:%M} ET"
    return Alert(
        alert_id=alert_id_of("stream_silent", "", "watch", last_ts),
        kind="stream_silent",
        symbol="",
        title="Market-data stream silent",
        body=f"No minute bar for {mute_s:.0f} s while the market is open ({last}). "
        f"Polling Alpaca's REST API every {poll_s:g} s instead: the alerts go on from "
        "those bars, up to a minute late.",
        channels=tuple(route(routes, "stream_silent")),
    )


def stream_restored(routes: AlertRoutes, silent_since: int) -> Alert:
    since = "" if silent_since <= 0 else f" (silent after the {ns_to_et(silent_since):%H:%M} bar)"
    return Alert(
        alert_id=alert_id_of("stream_restored", "", "watch", silent_since),
        kind="stream_restored",
        symbol="",
        title="Market-data stream back",
        body=f"Minute bars arrive over the stream again{since}; the missed ones were read "
        "over REST.",
        channels=tuple(route(routes, "stream_restored")),
    )


def daily_summary(
    routes: AlertRoutes,
    day: date,
    made: Mapping[str, list[str]],
    watches: Mapping[str, SymbolWatch],
) -> Alert:
    lines = []
    for sym, watch in watches.items():
        last = watch.recent_minutes[-1].close if watch.recent_minutes else None
        price = "no bar" if last is None else f"last {last:.2f}"
        said = made.get(sym, [])
        what = "; ".join(said) if said else "no alert"
        lines.append(f"{sym} ({price}): {len(said)} alert(s): {what}")
    return Alert(
        alert_id=alert_id_of("daily_summary", "", "watch", day.isoformat()),
        kind="daily_summary",
        symbol="",
        title=f"Watch summary, {day}",
        body="\n".join(lines) or "no symbol watched",
        channels=tuple(route(routes, "daily_summary")),
    )


__all__ = ["daily_summary", "prune_charts", "stream_restored", "stream_silent", "tier_alert"]
