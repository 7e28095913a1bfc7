"""Is the service healthy? `bot service health` and the dashboard's /healthz ask here.

Healthy only when every rule below holds for the state directory (a paper runner's, or
a watcher's: its `role` meta is "watch"). Each failed rule adds one reason naming what
was read; `details` holds what was read either way. Read only: nothing is written.

1. heartbeat: `<state_dir>/heartbeat` exists, is at most `heartbeat_limit(heartbeat_s)`
   old (3 x paper.heartbeat_s + 5 s, the rule of `bot status`), and its pid is alive.
2. progress: bars were processed when they were due.
   - paper with daily bars: the last processed bar (StateStore.last_bar_ts) is dated
     (ET) no earlier than the last session whose close + paper.settle_delay_s +
     DAILY_GRACE_S has passed;
   - a watcher, or paper with minute bars: while the market is open, the newest minute
     (the `last_minute:SYMBOL` metas, or last_bar_ts) or the session's open, whichever
     is later, is at most MINUTE_LIMIT = 3 x watch.silent_s + 60 s old. Market closed:
     nothing is due.
3. broker: not checked by a call (a health check never talks to Alpaca). A fresh heartbeat
   means the loop runs, and the loop only runs while its reads succeed or are being
   retried; so the journal tail (paper.log_dir/events.jsonl) is read, and a last
   broker-side event that is a `retry` with attempt >= RETRY_ALARM means the broker has
   failed that many times in a row now.
4. stream: the last `stream` event (a paper run's trade updates) is not `down`; the last
   `data_stream` event of the journal tail is not `silent` while the
   market is open (after the close the watcher stops listening, so it is not news).
5. outbox: the alerts pending or being sent (OutboxStore.unsettled) are at most
   alerts.rate_per_minute x OUTBOX_MINUTES: more than five minutes of sending at the
   channels' own rate means delivery is stuck or a channel is down.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.models import ns_to_et
from bot.settings import Settings
from bot.store.lock import heartbeat_limit, pid_alive, read_heartbeat
from bot.store.outbox import OutboxStore
from bot.store.state import StateStore

DAILY_GRACE_S = 3600.0  # a daily bar read late (retries, a slow feed) is not yet a failure
RETRY_ALARM = 3  # one or two transient errors are the network; three in a row an outage
OUTBOX_MINUTES = 5
TAIL_BYTES = 256 * 1024  # the journal's end that is read: its last few thousand events
# Events that mean the broker (or its data feed) answered, or failed and is being retried.
_BROKER_EVENTS = {"retry", "bar", "order", "fill", "reconcile", "catch_up", "data_stream"}


@dataclass
class Health:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def minute_limit(settings: Settings) -> float:
    return 3 * settings.watch.silent_s + 60  # a minute bar arrives after its minute


def journal_tail(path: Path, size: int = TAIL_BYTES) -> list[dict[str, Any]]:
    """The events of the journal's last `size` bytes; a line cut at either end is skipped."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            start = max(fh.tell() - size, 0)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # begins mid-line
    events = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:  # blank, or the line being written right now
            continue
        if isinstance(ev, dict):
            events.append(ev)
    return events


class _Check:
    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.details: dict[str, Any] = {}

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)


def _heartbeat(c: _Check, state_dir: Path, s: Settings, now: float) -> None:
    beat = read_heartbeat(state_dir, now)
    if beat is None:
        c.fail(f"heartbeat: none in {state_dir} (the bot has not run here, or not yet)")
        return
    age, pid, what = beat
    limit = heartbeat_limit(s.paper.heartbeat_s)
    alive = pid_alive(pid)
    c.details["heartbeat"] = {"age_s": round(age, 1), "pid": pid, "what": what, "alive": alive}
    if age > limit:
        c.fail(f"heartbeat: {age:,.0f} s old (limit {limit:,.0f} s)")
    if not alive:
        c.fail(f"heartbeat: process {pid} is gone")


def _calendar(now: float) -> Any:
    from bot.data.calendar import MarketCalendar  # exchange_calendars: only when asked

    today = datetime.fromtimestamp(now, UTC).date()
    return MarketCalendar(today - timedelta(days=15), today + timedelta(days=5))


def _minutes(c: _Check, newest_ns: int | None, s: Settings, now: float, cal: Any) -> None:
    now_ns = int(now * 1e9)
    c.details["market_open"] = open_ = cal.is_open(now_ns)
    c.details["last_minute"] = None if newest_ns is None else ns_to_et(newest_ns).isoformat()
    if not open_:
        return
    session_open = cal.session_hours(ns_to_et(now_ns).date())[0]
    age = (now_ns - max(newest_ns or 0, session_open)) / 1e9
    limit = minute_limit(s)
    if age > limit:
        last = "none" if newest_ns is None else f"{ns_to_et(newest_ns):%Y-%m-%d %H:%M} ET"
        c.fail(f"progress: no minute bar for {age:,.0f} s while open (last {last}; "
               f"limit {limit:,.0f} s)")  # fmt: skip


def _daily(c: _Check, last_ns: int | None, s: Settings, now: float, cal: Any) -> None:
    now_ns = int(now * 1e9)
    wait_ns = int((s.paper.settle_delay_s + DAILY_GRACE_S) * 1e9)
    due: date | None = None
    for day, _open, close in cal.sessions(None, None):
        if close + wait_ns <= now_ns:
            due = day
    last = None if last_ns is None else ns_to_et(last_ns).date()
    c.details["last_bar"] = None if last is None else last.isoformat()
    c.details["bar_due"] = None if due is None else due.isoformat()
    if due is not None and (last is None or last < due):
        c.fail(f"progress: last bar processed {last or 'none'}, the {due} bar was due by now")


def _progress(c: _Check, state_dir: Path, s: Settings, now: float, cal: Any) -> None:
    path = state_dir / "state.sqlite"
    if not path.exists():
        c.fail(f"progress: no state at {path}")
        return
    store = StateStore(path, s.symbol)
    try:
        watcher = store.get_meta("role") == "watch"
        if watcher:
            symbols = filter(None, (store.get_meta("symbols") or "").split(","))
            stamps = [int(store.get_meta(f"last_minute:{sym}") or 0) for sym in symbols]
            newest = max(stamps, default=0) or None
        else:
            newest = store.last_bar_ts()
    finally:
        store.close()
    c.details["role"] = "watch" if watcher else "paper"
    if watcher or s.data.timeframe == "1m":
        _minutes(c, newest, s, now, cal)
    else:
        _daily(c, newest, s, now, cal)


def _journal(c: _Check, s: Settings, market_open: bool) -> None:
    events = journal_tail(Path(s.paper.log_dir) / "events.jsonl")
    broker = [e for e in events if e.get("event") in _BROKER_EVENTS]
    streams = [e for e in events if e.get("event") == "data_stream"]
    if broker and broker[-1].get("event") == "retry":
        last = broker[-1]
        c.details["broker"] = {k: last.get(k) for k in ("time", "why", "error", "attempt")}
        if int(last.get("attempt") or 0) >= RETRY_ALARM:
            c.fail(f"broker: {last.get('why')} failed {last.get('attempt')} times in a row "
                   f"({last.get('error')}), last at {last.get('time')}")  # fmt: skip
    if streams:
        last = streams[-1]
        c.details["stream"] = {"status": last.get("status"), "time": last.get("time")}
        if last.get("status") == "silent" and market_open:
            c.fail(f"stream: the market-data stream is silent since {last.get('time')}")
    # A paper run's trade-updates stream (bot/live/stream.py): down means its fills are
    # learnt by REST polling, late; it listens day and night, so any time counts.
    trades = [e for e in events if e.get("event") == "stream"]
    if trades:
        last = trades[-1]
        c.details["trade_updates"] = {"status": last.get("status"), "time": last.get("time")}
        if last.get("status") == "down":
            c.fail(f"stream: the trade-updates stream is down since {last.get('time')} "
                   f"({last.get('fallback') or 'REST polling'})")  # fmt: skip


def _outbox(c: _Check, state_dir: Path, s: Settings) -> None:
    path = state_dir / "state.sqlite"
    if not path.exists():
        return  # rule 2 said so already
    box = OutboxStore(path)
    try:
        unsettled = box.unsettled()
    finally:
        box.close()
    limit = s.alerts.rate_per_minute * OUTBOX_MINUTES
    c.details["outbox"] = {"unsettled": unsettled, "limit": limit}
    if unsettled > limit:
        c.fail(f"outbox: {unsettled} alert(s) waiting to be sent (limit {limit})")


def health(
    state_dir: Path, settings: Settings, now: float | None = None, calendar: Any = None
) -> Health:
    """Every rule of the module docstring for `state_dir`, at `now` (UNIX seconds)."""
    now = time.time() if now is None else now
    cal = calendar if calendar is not None else _calendar(now)
    c = _Check()
    c.details["state_dir"] = str(state_dir)
    _heartbeat(c, state_dir, settings, now)
    _progress(c, state_dir, settings, now, cal)
    _journal(c, settings, cal.is_open(int(now * 1e9)))
    _outbox(c, state_dir, settings)
    return Health(not c.reasons, c.reasons, c.details)


def healthz(
    state_dir: Path, settings: Settings, now: float | None = None
) -> tuple[int, dict[str, Any]]:
    """For an HTTP /healthz: 200 when healthy, else 503; the body {ok, reasons, details}."""
    h = health(state_dir, settings, now)
    return (200 if h.ok else 503), {"ok": h.ok, "reasons": h.reasons, "details": h.details}


__all__ = ["Health", "health", "healthz", "journal_tail", "minute_limit"]
