"""Alert channels: their Apprise URLs from the environment or `.env`, never from TOML.

The scheme: `BOT_ALERT_URLS_<CHANNEL>` holds one or more Apprise URLs (split as Apprise
splits them: spaces, commas), e.g. `BOT_ALERT_URLS_DEFAULT=tgram://TOKEN/CHAT` and
`BOT_ALERT_URLS_URGENT=discord://ID/TOKEN mailto://user:pass@example.com`; the channel's
name is the suffix in lower case. The environment wins over `.env`, variable by variable
(as for the settings). Which channel each kind of alert goes to is the [alerts.routes]
table of the config (`route`). A channel without URLs sends to the default channel's
URLs, and when the default channel has none either the alert is printed (the console
target): an offline run shows what it would have sent.

Every URL becomes one `Target` (one Apprise object holding that one URL), because Apprise
reports one success for a whole set of URLs: with two URLs in one object, a retry after
one failed would send again to the one that worked. A target is stored by its `key`
(scheme and a SHA-256 prefix of the URL as written), never by its URL.

The URLs carry tokens. Before any is used, its secret parts are registered with
bot.events.journal.register_secrets, so every log handler set up by setup_logging (and
every journal made afterwards) redacts them: the URL as written, what Apprise itself
masks when it prints the URL privately (`url(privacy=True)`: Telegram, Discord and Slack
tokens, passwords), the password of the URL, and path segments and query values that look
like tokens (Apprise does not mask a webhook's path). Errors name the variable, not its
value. Imports apprise, python-dotenv, bot.events.journal, bot.settings (the routes'
model) and bot.alerts.model.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from dotenv import dotenv_values

from bot.alerts.model import ALERT_KINDS, CHANNEL_NAME
from bot.events.journal import register_secrets
from bot.settings import AlertRoutes

ENV_PREFIX = "BOT_ALERT_URLS_"
DEFAULT_CHANNEL = "default"
CONSOLE = "console"  # the key of the console target

_PIECES = re.compile(r"[/:@?&=,;#+\s]+")


class ChannelError(Exception):
    """A channel variable that cannot be used; the message names the variable only."""


def read_urls(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> dict[str, str]:
    """channel -> its variable's value, from `env_file` then `environ` (which wins)."""
    found: dict[str, str] = {}
    sources: list[Mapping[str, str | None]] = []
    if env_file is not None and env_file.is_file():
        sources.append(dotenv_values(env_file))
    sources.append(os.environ if environ is None else environ)
    for source in sources:
        for name, value in source.items():
            if not name.upper().startswith(ENV_PREFIX) or value is None:
                continue
            channel = name[len(ENV_PREFIX) :].lower()
            if not CHANNEL_NAME.match(channel):
                raise ChannelError(
                    f"{name}: {channel!r} is not a channel name (a-z, 0-9, _; 32 at most)"
                )
            found[channel] = value
    return {c: v for c, v in found.items() if v.strip()}


def _looks_like_token(piece: str) -> bool:
    """Letters and digits of some length, or a long run without dots (not a host name)."""
    mixed = any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece)
    return (len(piece) >= 8 and mixed) or (len(piece) >= 16 and "." not in piece)


def secret_parts(url: str) -> set[str]:
    """The parts of `url` as written that may be secrets: itself, its password, and the
    pieces of its user/host part, path and query values that look like tokens."""
    out = {url, unquote(url)}
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    if parts.password:
        out.add(unquote(parts.password))
    pieces = [
        *re.split(r"[:@]", parts.netloc),
        *parts.path.split("/"),
        *(v for _, v in parse_qsl(parts.query)),
    ]
    out |= {unquote(p) for p in pieces if _looks_like_token(unquote(p))}
    return {p for p in out if len(p) >= 4}


def apprise_secrets(service: Any) -> set[str]:
    """What Apprise itself hides of a service's URL (`url(privacy=True)`): the tokens of
    Telegram, Discord, Slack..., passwords, wherever the service's URL form puts them."""
    private = set(_PIECES.split(unquote(service.url(privacy=False))))
    public = set(_PIECES.split(unquote(service.url(privacy=True))))
    return {p for p in private - public if len(p) >= 4}


Printer = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """One destination: one Apprise URL, or the console. `key` is what the outbox stores
    and rate-limits by (two channels naming one URL share its limit); `label` is what
    logs say ("default: json #1"). Neither holds a secret."""

    key: str
    label: str
    service: apprise.Apprise | None = None  # None: the console
    printer: Printer | None = None

    @property
    def limited(self) -> bool:
        """The console has no rate limit; a real channel has."""
        return self.service is not None

    @property
    def takes_attachments(self) -> bool:
        return self.service is not None and any(s.attachment_support for s in self.service)

    def send(
        self, title: str, body: str, attach: str | None = None, notify_type: str = "info"
    ) -> bool:
        """Deliver one message; True when the channel took it."""
        if self.service is None:
            (self.printer or print)(f"ALERT  {title}\n{body}")
            return True
        # Text in, so Markdown/HTML channels escape it rather than interpret it; bool()
        # of the result is True only when the service took the message (Apprise 1.x
        # returns a bool, 2.x an AppriseResult with that truth value).
        result = self.service.notify(
            body=body, title=title, attach=attach, body_format="text", notify_type=notify_type
        )
        return bool(result)


class Channels:
    """The targets of each channel, built once (at start) from their URLs."""

    def __init__(self, urls: Mapping[str, str], printer: Printer | None = None) -> None:
        """`urls`: channel -> one or more Apprise URLs (as `read_urls` gives them)."""
        self.console = Target(CONSOLE, CONSOLE, printer=printer)
        self._targets: dict[str, list[Target]] = {}
        # Secure logging: Apprise prints its URLs privately in its own log lines too.
        asset = apprise.AppriseAsset(secure_logging=True)
        for channel, value in urls.items():
            var = ENV_PREFIX + channel.upper()
            targets = []
            for number, url in enumerate(split_urls(value), start=1):
                # Registered before Apprise parses it: its errors must not show it either.
                register_secrets(secret_parts(url))
                loader = apprise.Apprise(asset=asset)
                if not loader.add(url) or len(loader) != 1:
                    raise ChannelError(f"{var}: URL #{number} is not a valid Apprise URL")
                register_secrets(apprise_secrets(loader[0]))
                scheme = url.split("://", 1)[0].lower()
                digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
                label = f"{channel}: {scheme} #{number}"
                targets.append(Target(f"{scheme}-{digest}", label, service=loader))
            self._targets[channel] = targets

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: Path | None = Path(".env"),
        printer: Printer | None = None,
    ) -> Channels:
        return cls(read_urls(environ, env_file), printer)

    def describe(self) -> str:
        """Where alerts go, for a log line: channel names and schemes, never a URL."""
        if not self._targets:
            return "no BOT_ALERT_URLS_<CHANNEL> set: alerts are printed"
        return "; ".join(t.label for targets in self._targets.values() for t in targets)

    def targets(self, channel: str) -> list[Target]:
        """Where `channel`'s alerts go: its URLs, else the default channel's, else the console."""
        return self._targets.get(channel) or self._targets.get(DEFAULT_CHANNEL) or [self.console]

    def target(self, key: str) -> Target | None:
        if key == CONSOLE:
            return self.console
        for targets in self._targets.values():
            for t in targets:
                if t.key == key:
                    return t
        return None


def split_urls(value: str) -> list[str]:
    """The URLs of one variable: split on spaces, commas and semicolons before a new
    `scheme://` (as Apprise splits them), so a URL's own commas (a list of targets in
    its path or query) stay inside it."""
    pieces = re.split(r"[\s,;]+(?=[A-Za-z0-9]{1,32}://)", value.strip())
    return [p.strip(" ,;\t\n") for p in pieces if p.strip(" ,;\t\n")]


def route(routes: AlertRoutes, kind: str) -> tuple[str, ...]:
    """The channels of an alert of `kind` by the [alerts.routes] table."""
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    return (str(getattr(routes, kind)),)


__all__ = ["CONSOLE", "ENV_PREFIX", "ChannelError", "Channels", "Target", "read_urls", "route",
           "split_urls"]  # fmt: skip
