"""`bot watch`: the watchlist live, minute by minute, alerts only (nothing is traded).

The loop, one process, one market-data connection (Alpaca allows one per account):

1. **Start.** The broker's clock says which session is being watched. Each symbol's
   watcher (bot/watch/pipeline.py) warms its strategy up over REST (bot/watch/rest.py).
   The session's minutes so far are read too: those up to the last minute a previous
   run of this state directory saw are fed silently (their alerts were made then), the
   later ones (missed while it was down) alert, under the same ids a run that had seen
   them live would have used, so the outbox never sends one twice.
2. **Session.** The stream (bot/alpaca/datastream.py) is started; each minute goes
   through the watcher and its alerts into the outbox (bot/alerts/deliver.py). A minute
   not after the last one of its symbol is a duplicate and is dropped. A revision
   (`updatedBars`) is applied to the bar in progress when it belongs to it. On each
   (re)connection the minutes missed are caught up over REST. No message for
   `watch.silent_s` while the market is open: the dead-man alert (`stream_silent`, one per
   outage), then REST polling every `watch.poll_s` until the stream speaks again
   (`stream_restored`).
3. **Close.** The broker's clock (read every `watch.clock_s`) says the market closed:
   the stream is stopped, the last minutes caught up, and the session's last bar of each
   timeframe closes (a daily timeframe: the official daily bar, `paper.settle_delay_s`
   after the close, as `bot paper` trades on). Then the day's summary, and the wait for
   the next session (or the end, with `--sessions N`).

While it waits the heartbeat is written, so `bot status --state-dir <watch.state_dir>`
tells a waiting watcher from a dead one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from bot import lifecycle
from bot.alerts.deliver import Deliverer
from bot.alerts.model import Alert
from bot.alpaca.datastream import MinuteEvent
from bot.events import AlertMade, CatchUp, DataStream, Event, WatchSession
from bot.models import Bar, ns_to_et
from bot.settings import Settings
from bot.store.lock import write_heartbeat
from bot.store.state import StateStore
from bot.study.baserate import StudyData
from bot.watch import notices
from bot.watch.charts import ChartJob, ChartWorker
from bot.watch.pipeline import SymbolWatch
from bot.watch.rest import NS_PER_MIN, RestBars

LOG = logging.getLogger("bot.watch")
STUDY_BARS = 2520  # about ten years of sessions behind each alert's base rate
GIVE_UP_S = 3600.0  # how long after it is due the official daily bar is waited for


class Stopped(Exception):
    """The owner asked the watcher to end (its `stop` event)."""


class Stream(Protocol):
    events: queue.Queue[MinuteEvent]
    connected: bool
    last_message: float
    connects: int

    def start(self) -> None: ...

    def stop(self, wait_s: float = 5.0) -> None: ...


@dataclass
class WatchSummary:
    sessions: int = 0
    minutes: int = 0
    alerts: int = 0
    duplicates: int = 0
    revisions: int = 0
    caught_up: int = 0
    silences: int = 0
    per_symbol: dict[str, list[str]] = field(default_factory=dict)


class LiveWatch:
    """The watchlist's live loop (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        watches: dict[str, SymbolWatch],
        clock: Callable[[], dict[str, Any]],
        rest: RestBars,
        new_stream: Callable[[list[str]], Stream],
        deliverer: Deliverer,
        state: StateStore,
        state_dir: Path,
        sessions: int | None = None,
        stop: threading.Event | None = None,
        publish: Callable[[Event], None] = lambda e: None,
    ) -> None:
        self.s, self.cfg = settings, settings.watch
        self.watches = watches
        self.clock, self.rest = clock, rest
        self.new_stream = new_stream
        self.deliverer, self.state, self.state_dir = deliverer, state, state_dir
        self.sessions = sessions
        self.publish = publish  # the events of `bot logs` (bot/events/watch.py)
        self.stop = stop or threading.Event()  # set: end at the next wait (`bot paper`'s end)
        self.summary = WatchSummary(per_symbol={s: [] for s in watches})
        self.stream: Stream | None = None
        self.day: date | None = None  # the session being watched
        self.silent_since: int | None = None  # the last bar's time when the stream went mute
        self._next_poll = 0.0
        self._beat = 0.0
        self._warmed = False
        self.charts = ChartWorker(deliverer.release)  # alert charts, off the bar loop
        # What `bot status` reads (bot/report/watchstatus.py): a watcher's state, its symbols.
        state.set_meta("role", "watch")
        state.set_meta("symbols", ",".join(watches))

    # -- the loop --------------------------------------------------------------------
    def run(self) -> WatchSummary:
        try:
            while self.sessions is None or self.summary.sessions < self.sessions:
                if self.stop.is_set():
                    break
                now, is_open = self._now()
                if is_open:
                    self._session(now)
                else:
                    self._closed(now)
        except Stopped:
            pass
        finally:
            self._stop_stream()
            self.charts.close()
        return self.summary

    def _now(self) -> tuple[int, bool]:
        c = self.clock()
        return int(c["now"].timestamp() * 1e9), bool(c["is_open"])

    def _closed(self, now: int) -> None:
        today = ns_to_et(now).date()
        sessions = self.rest.calendar.sessions(today, today)
        finished = self.state.get_meta("finished_day")
        if sessions and self.day is None and sessions[0][1] <= now and finished != str(today):
            self._start_day(today, now)  # the session closed before it was settled: settle it
        if self.day is not None:
            self._finish_day(now)
            return
        self._wait(self.cfg.clock_s, "waiting for the next session")

    def _session(self, now: int) -> None:
        today = ns_to_et(now).date()
        if self.day is not None and self.day != today:
            self._finish_day(now)  # asleep through a close (a suspended machine): settle it
        if self.day != today:
            self._start_day(today, now)
        if self.stream is None:
            self.stream = self.new_stream(list(self.watches))
            self.stream.start()
            self._next_poll = 0.0
        deadline = time.monotonic() + self.cfg.clock_s
        while time.monotonic() < deadline and not self.stop.is_set():
            self._heartbeat(f"watching the {today} session")
            try:
                event = self.stream.events.get(timeout=min(1.0, self.cfg.clock_s))
            except queue.Empty:
                event = None
            if event is not None:
                self._on_event(event)
            self._check_silence()

    # -- a session's start and end --------------------------------------------------
    def _start_day(self, day: date, now: int) -> None:
        """Warm each symbol up and feed the session's minutes so far (see step 1)."""
        self.day = day
        for sym, watch in self.watches.items():
            if not self._warmed:  # later sessions carry on from the last one's bars
                self._warm_up(watch, day)
            seen = int(self.state.get_meta(f"last_minute:{sym}") or 0)
            open_ns, close_ns = self.rest.calendar.session_hours(day)
            bars = self.rest.closed_minutes(sym, open_ns - 1, min(now, close_ns))
            for bar in bars:
                self._minute(watch, bar, send=bar.ts > seen > 0)
            self._caught_up(sym, bars, "start")
        self._warmed = True
        LOG.info("watching %s for the %s session", ", ".join(self.watches), day)
        self.publish(WatchSession(day=str(day), status="started", symbols=",".join(self.watches)))

    def _warm_up(self, watch: SymbolWatch, day: date) -> None:
        """The strategy's warm-up, and the daily history the alerts' base rates come from
        (bot/study: `STUDY_BARS` sessions, one request)."""
        daily = self.rest.daily_history(watch.symbol, day, STUDY_BARS)
        if watch.timeframe.daily:
            need = watch.strategy.warmup_bars() + 5
            watch.warm_up(daily.iter_bars(max(len(daily) - need, 0), len(daily)))
        else:
            sessions = self.cfg.warmup_sessions
            watch.warm_up(self.rest.intraday_history(watch.symbol, watch.timeframe, day, sessions))
        if len(daily):
            watch.study = StudyData.build(self.s, watch.symbol, daily)

    def _finish_day(self, now: int) -> None:
        """The session closed: last minutes, last bars, the day's summary."""
        assert self.day is not None
        day = self.day
        self._stop_stream()
        self._catch_up(now, "close")
        close_ns = self.rest.calendar.session_hours(day)[1]
        for sym, watch in self.watches.items():
            official = None
            if watch.timeframe.daily:
                official = self._official_daily(sym, day, close_ns)
            for tier in watch.close_session(official).alerts:
                self._send(*notices.tier_alert(self.s, watch, tier, self.state_dir))
        routes = self.s.alerts.routes
        self._send(notices.daily_summary(routes, day, self.summary.per_symbol, self.watches))
        notices.prune_charts(self.state_dir)
        self.state.set_meta("finished_day", str(day))
        made = sum(len(v) for v in self.summary.per_symbol.values())
        self.publish(WatchSession(day=str(day), status="finished",
                                  symbols=",".join(self.watches), alerts=made))  # fmt: skip
        self.summary.sessions += 1
        self.summary.per_symbol = {s: [] for s in self.watches}
        self.day, self.silent_since = None, None
        LOG.info("the %s session is over", day)

    def _official_daily(self, sym: str, day: date, close_ns: int) -> Bar | None:
        settle = self.s.paper.settle_delay_s
        due, give_up = close_ns + int(settle * 1e9), time.monotonic() + settle + GIVE_UP_S
        while time.monotonic() < give_up:  # then the bar built from its minutes
            now, _open = self._now()
            if now >= due:
                bar = self.rest.official_daily(sym, day, now)
                if bar is not None:
                    return bar
                if now >= due + int(GIVE_UP_S * 1e9):
                    break
            self._wait(self.cfg.clock_s, f"waiting for the {day} daily bar of {sym}")
        LOG.warning("no official %s daily bar of %s: confirming on its minutes", day, sym)
        return None

    # -- stream events ---------------------------------------------------------------
    def _on_event(self, event: MinuteEvent) -> None:
        if event.kind == "connected":
            connects = getattr(self.stream, "connects", None)
            self.publish(DataStream(status="connected", connects=connects))
            self._catch_up(self._now()[0], "connected")
            return
        self._restored()
        bar = event.bar
        if event.kind == "rejected" or bar is None:
            LOG.warning("refused a bar from the stream: %s (%s)", event.why, bar)
            return
        watch = self.watches.get(bar.symbol)
        if watch is None or not self.rest.regular(bar.ts):
            return
        if event.kind == "updated":
            self.summary.revisions += 1
            applied = watch.revise(bar)
            LOG.info("revised %s %s bar %s", bar.symbol, ns_to_et(bar.ts).strftime("%H:%M"),
                     "applied" if applied else "after its bar closed: not applied")  # fmt: skip
            return
        if bar.ts <= watch.last_ts:
            self.summary.duplicates += 1
            return
        self._minute(watch, bar, send=True)

    def _minute(self, watch: SymbolWatch, bar: Bar, send: bool) -> None:
        self.summary.minutes += 1
        seen = watch.on_minute(bar)
        if send:
            for tier in seen.alerts:
                self._send(*notices.tier_alert(self.s, watch, tier, self.state_dir))
                self.summary.per_symbol[watch.symbol].append(f"{tier.tier} {tier.level:g}")
        self.state.set_meta(f"last_minute:{watch.symbol}", str(bar.ts))

    def _catch_up(self, now: int, why: str) -> None:
        if self.day is None:
            return
        open_ns, close_ns = self.rest.calendar.session_hours(self.day)
        now = min(now, close_ns)  # this session's minutes only
        for sym, watch in self.watches.items():
            after = max(watch.last_ts, open_ns - 1)
            bars = self.rest.closed_minutes(sym, after, now)
            for bar in bars:
                self._minute(watch, bar, send=True)
            self._caught_up(sym, bars, why)

    def _caught_up(self, sym: str, bars: list[Bar], why: str) -> None:
        self.summary.caught_up += len(bars)
        if bars:
            LOG.info("caught up %d minute(s) of %s over REST (%s)", len(bars), sym, why)
            first, last = (f"{ns_to_et(b.ts):%Y-%m-%dT%H:%M}" for b in (bars[0], bars[-1]))
            self.publish(CatchUp(symbol=sym, why=why, minutes=len(bars), first=first, last=last))

    def _check_silence(self) -> None:
        if self.stream is None:
            return
        mute = time.monotonic() - self.stream.last_message
        if mute >= self.cfg.silent_s and self.silent_since is None:
            last = max((w.last_ts for w in self.watches.values()), default=0)
            self.silent_since = last
            self.summary.silences += 1
            LOG.warning("no bar for %.0f s: the stream is silent; polling REST", mute)
            self.publish(DataStream(status="silent", silent_s=round(mute, 1)))
            self._send(notices.stream_silent(self.s.alerts.routes, last, mute, self.cfg.poll_s))
        if self.silent_since is not None and time.monotonic() >= self._next_poll:
            self._next_poll = time.monotonic() + self.cfg.poll_s
            self._catch_up(self._now()[0], "silent")

    def _restored(self) -> None:
        if self.silent_since is None:
            return
        LOG.info("the stream is back")
        self.publish(DataStream(status="restored"))
        self._send(notices.stream_restored(self.s.alerts.routes, self.silent_since))
        self.silent_since = None

    # -- helpers -----------------------------------------------------------------------
    def _send(self, alert: Alert, chart: ChartJob | None = None) -> None:
        if chart is not None and not self.charts.ready_within(alert.hold_s):
            alert, chart = replace(alert, attachment=None, hold_s=0.0), None  # a burst
        new = self.deliverer.submit(alert)
        if new:
            self.summary.alerts += 1
            if chart is not None:
                self.charts.draw(chart)
        self.publish(AlertMade(symbol=alert.symbol or None, alert_id=alert.alert_id,
                               alert_kind=alert.kind, title=alert.title, new=new))  # fmt: skip

    def _stop_stream(self) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream = None

    def _heartbeat(self, what: str) -> None:
        if time.monotonic() >= self._beat:
            write_heartbeat(self.state_dir, what)
            self._beat = time.monotonic() + self.s.paper.heartbeat_s

    def _wait(self, seconds: float, what: str) -> None:
        self._heartbeat(what)
        if self.stop.wait(seconds):
            raise Stopped
        lifecycle.check()


__all__ = ["NS_PER_MIN", "LiveWatch", "WatchSummary"]
