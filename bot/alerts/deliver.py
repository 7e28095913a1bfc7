"""The Deliverer: alerts from the outbox to their channels, on a thread of its own.

`submit(alert)` writes the alert's rows (one per target of each of its channels) to the
outbox in the state database and returns once they are committed: from then on a crash
cannot lose it. It never waits for a channel, so the bar loop (or the queued alert sink
that calls it) is never stalled by a slow one; its cost is one SQLite commit. A thread
sends what is due:

- per target, oldest first; a target that fails is retried with exponential backoff
  (`backoff_base_s`, doubling, at most `backoff_cap_s`), all of its rows waiting with it;
- at most `rate_per_minute` messages a minute to one target (over the last 60 s, counted
  from the outbox, so a restart keeps the count). When more are due than the room left,
  the room but one goes to single messages and the rest are merged into one digest in
  the last slot; a full target waits for its oldest message to age out of the minute;
- a row not delivered `expire_after_s` after its alert was made is dropped (`expired`);
- each send is marked `sending` before the channel is called; `start()` turns marks left
  by a dead process into `in_doubt`, never sends them again, and queues one notice per
  target naming them (the trade-off is explained in bot/store/outbox.py).

`flush(timeout)` waits until nothing is pending; `close()` stops the thread after the
send in progress (what is still pending stays in the outbox for the next start). One
deliverer per state file: the runner's lock (bot/store/lock.py) sees to that.

Reports (`DeliveryReport`: delivered, retry, expired, in_doubt) go to an optional
observer, on this thread; they carry ids, channel labels and counts, never a URL. A later
alert sink turns events into `Alert`s and calls `submit`, and turns reports into events.
Imports bot.alerts, bot.store.outbox and bot.settings (the config's type).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bot.alerts import messages
from bot.alerts.channels import Channels, Target
from bot.alerts.model import Alert
from bot.settings import AlertsConfig
from bot.store.outbox import NewRow, OutboxRow, OutboxStore

LOG = logging.getLogger("bot.alerts")
WINDOW_S = 60.0  # the rate limit's window: "messages a minute"
_MAX_SLEEP_S = 5.0  # the thread looks again at least this often (a clock step, a bug)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What happened to one message (or, for `expired` and `in_doubt`, one row)."""

    status: str  # delivered | retry | expired | in_doubt
    target: str  # the target's label ("default: tgram #1"), never its URL
    alert_ids: tuple[str, ...]
    message: str  # the id of the message: an alert's own, a digest's, a notice's
    attempts: int
    detail: str = ""


Observer = Callable[[DeliveryReport], None]


class Deliverer:
    def __init__(
        self,
        store: OutboxStore,
        channels: Channels,
        config: AlertsConfig,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Deliver `store`'s rows to `channels`' targets; `start()` starts the thread."""
        self.store = store
        self.channels = channels
        self.config = config
        self.observer = observer
        self.clock = clock  # wall clock (UNIX seconds): the rows' times outlive the process
        self._owns_store = False
        self._cond = threading.Condition()
        self._kicked = self._stopping = False
        self._thread: threading.Thread | None = None
        self._streak: dict[str, int] = {}  # target -> failures in a row (the backoff)
        self._blocked: dict[str, float] = {}  # target -> no try before (after a failure)
        self._observer_failed = False

    @classmethod
    def open(
        cls,
        state_path: Path,
        config: AlertsConfig,
        channels: Channels | None = None,
        *,
        observer: Observer | None = None,
    ) -> Deliverer:
        """A started deliverer over the outbox of the state file `state_path`, to the
        channels of the environment and `.env` unless given; `close()` closes the store."""
        deliverer = cls(
            OutboxStore(state_path), channels or Channels.from_env(), config, observer=observer
        )
        deliverer._owns_store = True
        return deliverer.start()

    # -- the caller's side ---------------------------------------------------------
    def start(self) -> Deliverer:
        """Settle what a previous process left (in-doubt rows, URLs gone), then start."""
        if self._thread is None:
            LOG.info("alerts go to: %s", self.channels.describe())
            self._recover(self.clock())
            self._retarget()
            self._thread = threading.Thread(target=self._run, name="alert-deliverer", daemon=True)
            self._thread.start()
        return self

    def submit(self, alert: Alert) -> bool:
        """Write `alert` to the outbox (committed when this returns) and wake the sender;
        False if it was written before (the same id: it is not sent again)."""
        created = alert.created.timestamp()
        row = NewRow(
            alert_id=alert.alert_id, channel="", kind=alert.kind, symbol=alert.symbol,
            title=alert.title, body=alert.body,
            attachment=None if alert.attachment is None else str(alert.attachment),
            created_at=created, expires_at=created + self.config.expire_after_s,
            not_before=created + alert.hold_s if alert.attachment and alert.hold_s > 0 else None,
        )  # fmt: skip
        new = 0
        for channel in alert.channels:
            targets = [t.key for t in self.channels.targets(channel)]
            new += self.store.add(replace(row, channel=channel), targets)
        self._kick()
        return new > 0

    def release(self, alert_id: str) -> None:
        """The alert's attachment is ready: send it now rather than at the end of its hold."""
        if self.store.release(alert_id, self.clock()):
            self._kick()

    def unsettled(self) -> int:
        """Rows not yet delivered, expired or in doubt."""
        return self.store.unsettled()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until no row is pending or being sent; False if `timeout` ran out first."""
        self._kick()
        with self._cond:
            return self._cond.wait_for(lambda: self.store.unsettled() == 0, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop the thread after the send in progress; pending rows wait for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning(
                    "the alert deliverer is still sending after %s s; left running", timeout
                )
                return  # its store stays open for it: a daemon thread ends with the process
        if self._owns_store:
            self.store.close()

    def _kick(self) -> None:
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    # -- start-up ------------------------------------------------------------------
    def _recover(self, now: float) -> None:
        groups: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in self.store.recover():
            groups[row.target].append(row)
        for key, rows in groups.items():
            target = self.channels.target(key)
            label = target.label if target is not None else key
            LOG.warning(
                "%d alert(s) were being sent to %s when the bot stopped: they may not have "
                "arrived and are not sent again (never twice); a notice names them",
                len(rows), label,
            )  # fmt: skip
            for r in rows:
                self._report(DeliveryReport("in_doubt", label, (r.alert_id,), r.message or "",
                                            r.attempts))  # fmt: skip
            alerts = [r for r in rows if r.kind != messages.NOTICE_KIND]  # no notice of a notice
            if alerts:
                notice = messages.in_doubt_notice(alerts, now, self.config.expire_after_s)
                # To the same URL if it is still configured, else where the channel goes now.
                keys = [key] if target is not None else self._keys(notice.channel)
                self.store.add(notice, keys)

    def _retarget(self) -> None:
        """Pending rows of a URL no longer configured go to their channel's targets now."""
        for key, channel in self.store.pending_targets():
            if self.channels.target(key) is None:
                moved = self.store.retarget(key, channel, self._keys(channel))
                LOG.warning(
                    "%d pending alert(s) of channel %s were for a URL no longer configured: "
                    "sent to the channel's present URLs",
                    moved, channel,
                )  # fmt: skip

    def _keys(self, channel: str) -> list[str]:
        return [t.key for t in self.channels.targets(channel)]

    # -- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                self._kicked = False
            try:
                wait = self._round(self.clock())
            except Exception as exc:  # a locked or full disk: said, and tried again
                LOG.error("alert delivery round failed (%s: %s)", type(exc).__name__, exc)
                wait = 1.0
            with self._cond:
                self._cond.notify_all()  # flush() looks again
                if self._stopping:
                    return
                if not self._kicked:
                    self._cond.wait(wait)

    def _round(self, now: float) -> float:
        """Expire, then send what is due; the seconds until something is due again."""
        for row in self.store.expire(now):
            LOG.warning("alert %s expired undelivered (%s)", row.alert_id, self._label(row.target))
            self._report(DeliveryReport("expired", self._label(row.target), (row.alert_id,),
                                        row.message or "", row.attempts))  # fmt: skip
        for key in self.store.due_targets(now):
            if self._stopping:
                break
            target = self.channels.target(key)
            blocked = self._blocked.get(key, 0.0)
            if target is None or blocked > now:
                # Alerts that came in while the target backs off wait with the rest.
                self.store.defer(key, blocked if target is not None else now + _MAX_SLEEP_S)
                continue
            self._deliver(target, now)
        nxt = self.store.next_event()
        wait = _MAX_SLEEP_S if nxt is None else nxt - self.clock()
        return min(max(wait, 0.005), _MAX_SLEEP_S)

    def _deliver(self, target: Target, now: float) -> None:
        # A row that came in expired after this round's expiry pass waits for the next
        # pass: an expired alert is never tried, whatever the timing.
        rows = [r for r in self.store.due(target.key, now) if r.expires_at > now]
        room = len(rows)
        if target.limited and rows:
            rate = self.config.rate_per_minute
            sent = self.store.sent_since(target.key, now - WINDOW_S)
            room = rate - len(sent)
            if room <= 0:
                # Full: wait until the oldest message of the minute ages out of it.
                self.store.defer(target.key, sent[len(sent) - rate] + WINDOW_S)
                return
        if len(rows) <= room:
            batches = [[r] for r in rows]
        else:  # over the limit: the last slot carries everything left, as one digest
            batches = [[r] for r in rows[: room - 1]] + [rows[room - 1 :]]
        for batch in batches:
            if self._stopping or not self._send(target, batch):
                return

    def _send(self, target: Target, rows: list[OutboxRow]) -> bool:
        ids = [r.alert_id for r in rows]
        if len(rows) == 1:
            title, body, attach = messages.single(rows[0], target.takes_attachments)
            message = rows[0].alert_id
        else:
            message, title, body = messages.digest(rows, self.config.rate_per_minute)
            attach = None
        attempts = max(r.attempts for r in rows) + 1
        self.store.mark_sending(ids, target.key, message)  # committed before the call
        try:
            ok = target.send(title, body, attach, messages.notify_type(rows))
            error = "" if ok else "the channel did not take it"
        except Exception as exc:  # Apprise or a plugin raising must not end the thread
            ok, error = False, type(exc).__name__  # its text may hold a URL: not stored
            LOG.warning("sending to %s raised %s: %s", target.label, error, exc)
        now = self.clock()
        if ok:
            self.store.mark_delivered(ids, target.key, now)
            self._streak.pop(target.key, None)
            self._blocked.pop(target.key, None)
            LOG.info("alert message %s delivered to %s (%d alert(s))", message, target.label,
                     len(ids))  # fmt: skip
            self._report(DeliveryReport("delivered", target.label, tuple(ids), message, attempts))
            return True
        streak = self._streak[target.key] = self._streak.get(target.key, 0) + 1
        delay = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2 ** (streak - 1))
        until = self._blocked[target.key] = now + delay
        self.store.mark_failed(ids, target.key, until, error)
        self.store.defer(target.key, until)
        LOG.warning(
            "alert message %s not delivered to %s (%s, try %d); next try in %.1f s",
            message, target.label, error, attempts, delay,
        )  # fmt: skip
        self._report(DeliveryReport("retry", target.label, tuple(ids), message, attempts, error))
        return False

    def _label(self, key: str) -> str:
        target = self.channels.target(key)
        return key if target is None else target.label

    def _report(self, report: DeliveryReport) -> None:
        if self.observer is None:
            return
        try:
            self.observer(report)
        except Exception as exc:  # an observer's bug must not stop delivery; said once
            if not self._observer_failed:
                self._observer_failed = True
                LOG.error("alert delivery observer failed (%s: %s)", type(exc).__name__, exc)


__all__ = ["Deliverer", "DeliveryReport", "Observer"]
