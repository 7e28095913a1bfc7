"""The emulator's admin client: its replay clock and bar fingerprint (/_emulator routes).

`bot.live.feeds.ReplayFeed` moves the emulator's clock with it before each bar, and
`bot paper --emulator-url` checks with `fingerprint` that the emulator fills on the
bars it replays (bot/live/replay.py). The calls go through the one retry path
(bot/live/retry.py), as the broker's do, and carry the account's keys (the admin routes
require them). The routes themselves: bot/emulator/admin.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests

from bot.broker.sim import BrokerError, InDoubt
from bot.live.retry import Retrier, transient_http
from bot.models import ns_to_et

LOG = logging.getLogger("bot.feeds")  # its name from before it moved here: log lines unchanged


class EmulatorClockError(Exception):
    """The emulator refused to move its clock where the replay needs it."""


class EmulatorAdmin:
    """The emulator's replay-clock control (its /_emulator admin routes)."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30.0,
        keys: tuple[str, str] = ("emulator-key", "emulator-secret"),
        retrier: Retrier | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_s
        self.headers = {"APCA-API-KEY-ID": keys[0], "APCA-API-SECRET-KEY": keys[1]}
        self.retrier = retrier or Retrier()

    def _call(self, method: str, route: str, body: dict[str, str] | None = None) -> Any:
        """One admin request through the retry path; a 422 comes back as the response."""

        def once() -> requests.Response:
            try:
                resp = requests.request(
                    method,
                    f"{self.base_url}/_emulator/{route}",
                    json=body,
                    headers=self.headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise InDoubt(type(exc).__name__) from None
            if resp.status_code == 429 or resp.status_code >= 500:
                raise transient_http(resp.status_code, resp.text[:200], resp.headers)
            if resp.status_code in (401, 403):
                raise BrokerError(resp.status_code, 0, "the emulator refused the keys")
            return resp

        return self.retrier.call(once, f"emulator {route}")

    def reset(self, now_ns: int) -> None:
        """Fresh account and order book, clock at `now_ns` (a new replay)."""
        resp = self._call("POST", "reset", {"now": ns_to_et(now_ns).isoformat()})
        resp.raise_for_status()

    def fingerprint(self, symbol: str, start_ns: int, end_ns: int) -> dict[str, Any]:
        """What the emulator fills `symbol`'s orders on, stamped in [start_ns, end_ns]:
        {"timeframe", "bars", "digest"} (`BarSeries.digest`)."""
        query = f"fingerprint?symbol={symbol}&start_ns={start_ns}&end_ns={end_ns}"
        resp = self._call("GET", query)
        resp.raise_for_status()
        return dict(resp.json())

    def now(self) -> datetime:
        resp = self._call("GET", "state")
        resp.raise_for_status()
        return datetime.fromisoformat(str(resp.json()["now"]).replace("Z", "+00:00"))

    def advance(self, until_ns: int) -> None:
        """Move the clock to `until_ns`. A clock already past it is left alone: the market
        moved on while the bot was down (those bars are history now, as they would be
        at Alpaca, and the stale-data guard keeps entries off them)."""
        when = ns_to_et(until_ns).isoformat()
        resp = self._call("POST", "advance", {"until": when})
        if resp.status_code == 422:
            now = self.now()
            if now.timestamp() * 1e9 >= until_ns:
                LOG.info("the emulator's clock is at %s, past %s: not moved", now, when)
                return
            try:
                why = str(resp.json().get("message", resp.text))
            except ValueError:
                why = resp.text
            raise EmulatorClockError(
                f"the emulator at {self.base_url} cannot move its clock to {when}: {why}"
            )
        resp.raise_for_status()


__all__ = ["EmulatorAdmin", "EmulatorClockError"]
