"""The alerts of a paper run: an event sink that turns what the engine publishes into
alerts and hands them to the deliverer (bot/alerts/deliver.py), which writes each to the
outbox before sending it.

- a signal the strategy confirmed: `confirmed`;
- a fill: `fill`, or `exit_hit` when it is a stop's or a take-profit's;
- a guard refusal, a halt, a position mismatch while running (`reconcile`), the error
  that ended the run (`crash`);
- the run's summary at its end (`daily_summary`; a live run: one a session too).

Each alert's id comes from what it is about (the signal's tag and bar time, the fill's
order id and quantity...), never from the wall clock, so a resumed run that meets the same
event again makes the same id, and the outbox sends it once. The sink never blocks the
bar loop: `submit` is one SQLite commit; sending happens on the deliverer's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import events as ev
from bot.alerts.channels import Channels, route
from bot.alerts.deliver import Deliverer
from bot.alerts.model import Alert
from bot.settings import AlertRoutes, AlertsConfig

LOG = logging.getLogger("bot.alerts")
_EXITS = frozenset({"stop", "take_profit", "oco"})
FLUSH_S = 10.0  # at the end of a run, time the deliverer gets to send what is due


class RunAlertSink:
    """Events of a run -> alerts, through `deliverer` (which it closes)."""

    name = "alerts"

    def __init__(
        self,
        deliverer: Deliverer,
        routes: AlertRoutes,
        live: bool = False,
        history: Callable[[ev.Signal], str | None] | None = None,
    ) -> None:
        self.deliverer = deliverer
        self.history = history  # a signal's base rate (bot/study), where one is known
        self.routes = routes
        self.live = live  # a live run also sends a summary each session
        self._purpose: dict[str, str] = {}  # client order id -> purpose, from the intents
        self._last: dict[str, ev.Bar] = {}  # symbol -> its last bar event
        self._session: str | None = None

    def handle(self, event: ev.Event) -> None:
        made = self._alert(event)
        if made is not None:
            self.deliverer.submit(made)

    def close(self) -> None:
        try:
            self.deliverer.flush(FLUSH_S)
        finally:
            self.deliverer.close()

    # -- events -> alerts ----------------------------------------------------------------
    def _alert(self, e: ev.Event) -> Alert | None:
        if isinstance(e, ev.OrderIntent):
            self._purpose[e.client_order_id] = e.purpose
            return None
        if isinstance(e, ev.Signal):
            said = self.history(e) if self.history is not None else None
            body = e.reason + ("" if said is None else f"\nHistory: {said}")
            return self._make("confirmed", e.symbol or "", (e.tag, e.ts),
                              f"{e.symbol} {e.label}: confirmed", body)  # fmt: skip
        if isinstance(e, ev.Fill):
            purpose = self._purpose.get(e.client_order_id, "")
            kind = "exit_hit" if purpose in _EXITS else "fill"
            did = "bought" if e.side == "buy" else "sold"
            title = f"{e.symbol} {did} {e.qty:g} @ {e.price:.2f}" + (
                f" ({purpose.replace('_', ' ')} hit)" if kind == "exit_hit" else ""
            )
            body = (f"order {e.client_order_id}, bar {e.bar_time[:10]}; "
                    f"position now {e.position:g}")  # fmt: skip
            return self._make(kind, e.symbol or "", (e.client_order_id, e.qty, e.price),
                              title, body)  # fmt: skip
        if isinstance(e, ev.Guard):
            what = e.client_order_id or "entries"
            return self._make("guard", e.symbol or "", (what, e.reason),
                              f"{e.symbol or 'bot'}: guard refused {what}", e.reason)  # fmt: skip
        if isinstance(e, ev.Halt):
            return self._make("halt", e.symbol or "", (e.reason,),
                              f"{e.symbol or 'bot'}: entries halted", e.reason)  # fmt: skip
        if isinstance(e, ev.PositionMismatch) and not e.resolved:
            body = (
                f"the broker holds {e.broker_qty:g}, the bot's record says {e.local_qty:g}; "
                f"new entries are halted. {e.resolve or ''}"
            ).strip()
            return self._make("reconcile", e.symbol, (e.broker_qty, e.local_qty),
                              f"{e.symbol}: position mismatch", body)  # fmt: skip
        if isinstance(e, ev.Error) and e.where == "runner":
            return self._make("crash", "", (e.error,), "the paper bot stopped on an error",
                              e.error)  # fmt: skip
        if isinstance(e, ev.Bar):
            return self._bar(e)
        if isinstance(e, ev.RunEnd) and not e.stopped:
            return self._summary("run", "the run ended")
        return None

    def _bar(self, e: ev.Bar) -> Alert | None:
        day = e.bar_time[:10]
        out = None
        if self.live and self._session is not None and day != self._session:
            out = self._summary(self._session, f"session {self._session}")
        self._session = day
        self._last[e.symbol or ""] = e
        return out

    def _summary(self, key: str, what: str) -> Alert | None:
        if not self._last:
            return None
        last = max(self._last.values(), key=lambda b: b.bar_time)
        held = ", ".join(f"{sym} {b.position:g}" for sym, b in self._last.items() if b.position)
        body = (f"{what}: equity {last.equity:,.2f} at {last.bar_time[:10]}; "
                f"positions: {held or 'none'}")  # fmt: skip
        return self._make("daily_summary", "", (key, last.bar_time), f"summary: {what}", body)

    def _make(self, kind: str, symbol: str, key: tuple[Any, ...], title: str, body: str) -> Alert:
        return Alert.create(kind, symbol, key, title=title, body=body,
                            channels=route(self.routes, kind))  # fmt: skip


def run_alerts(
    state_path: Path,
    config: AlertsConfig,
    routes: AlertRoutes,
    console: Any,
    live: bool,
    history: Callable[[ev.Signal], str | None] | None = None,
) -> Callable[[], RunAlertSink]:
    """The alert sink of a paper run, made when the runner has opened its state file:
    channels from BOT_ALERT_URLS_* (none: the alerts are printed on `console`)."""

    def make() -> RunAlertSink:
        printer = None
        if console is not None:

            def printer(text: str) -> None:
                console.print(text, markup=False, highlight=False, soft_wrap=True)

        channels = Channels.from_env(printer=printer)
        deliverer = Deliverer.open(state_path, config, channels)
        return RunAlertSink(deliverer, routes, live=live, history=history)

    return make
