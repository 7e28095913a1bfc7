"""What every alpaca-py REST client gets that the SDK lacks (`harden`).

- a connect/read time-out on every request (alpaca-py sets none, so a hung server
  would hang the bot forever), cut to what is left of the start-up budget
  (`bot.live.retry.remaining`);
- the client-side rate limiter on every request;
- no request at all once a stop was asked for (`bot.lifecycle.check`);
- the SDK's own retry switched off (it silently resends POST /v2/orders on 429/504);
  the retry policy lives in `bot.broker.sending`, where resending is made safe by the
  deterministic client order id.
"""

from __future__ import annotations

from typing import Any

import requests

from bot import lifecycle
from bot.alpaca.ratelimit import RateLimiter
from bot.live import retry
from bot.settings import AlpacaConfig


def harden(client: Any, cfg: AlpacaConfig, limiter: RateLimiter) -> None:
    """Wrap the `requests.Session` of an alpaca-py client (`TradingClient` or a data
    client) in place; `client` is Any as the SDK keeps the session private."""
    session: requests.Session = client._session
    send = session.request

    def request(method: str, url: str, **kwargs: Any) -> requests.Response:
        lifecycle.check()  # a stop asked for: no new request goes out
        limiter.acquire()
        left = retry.remaining()  # at start-up the whole budget bounds each attempt too
        connect, read = cfg.connect_timeout_s, cfg.read_timeout_s
        if left is not None:
            connect, read = min(connect, left), min(read, left)
        kwargs.setdefault("timeout", (connect, read))
        return send(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign,assignment]
    client._retry = 0  # the SDK would resend orders on 429/504 behind our back


__all__ = ["harden"]
