"""Which trading endpoint the bot may use: paper unless two explicit opt-ins say live.

"Live" is decided on the parsed host (case-folded, a trailing dot dropped, any
scheme, port or path), never by comparing strings. Without both opt-ins (config
`alpaca.allow_live = true` AND `--live`) only Alpaca's paper host and loopback
addresses (the local emulator) are allowed. This module imports no SDK.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from bot.settings import LIVE_TRADING_URL, PAPER_TRADING_URL, AlpacaConfig


class LiveTradingRefused(Exception):
    """Live trading was asked for without both opt-ins, or the URL is unusable."""


# Hosts are compared after parsing, case-folding and dropping a trailing dot: as strings,
# "https://API.alpaca.markets:443" or "http://api.alpaca.markets." would pass for paper.
_LIVE_HOST = "api.alpaca.markets"
_PAPER_HOST = "paper-api.alpaca.markets"
_OPT_INS = "alpaca.allow_live = true in the config and --live on the command line"
# alpaca-py appends /v2 to the base URL: ".../v2" would call .../v2/v2/orders.
_NO_V2 = "do not include /v2 in alpaca.trading_url (alpaca-py appends /v2 itself)"


def _split_url(raw: str) -> tuple[str, str]:
    """(host, path) of a trading URL: the host case-folded without a trailing dot, the
    path without a trailing slash. A URL that is not plainly one is refused."""
    bad = f"alpaca.trading_url {raw!r} is not a usable URL"
    if not raw:
        raise LiveTradingRefused(f"{bad}: it is empty")
    if any(ch.isspace() for ch in raw):
        raise LiveTradingRefused(f"{bad}: it contains whitespace")
    try:
        parts = urlsplit(raw)
        _ = parts.port  # reading it raises ValueError on a port that is not a number
    except ValueError as exc:
        raise LiveTradingRefused(f"{bad}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise LiveTradingRefused(f"{bad}: the scheme must be https or http")
    host = (parts.hostname or "").rstrip(".")  # .hostname is already lower-case
    if not host:
        raise LiveTradingRefused(f"{bad}: it has no host")
    if parts.username is not None or parts.password is not None:
        raise LiveTradingRefused(
            f"{bad}: it must not hold a user name or password before an @ "
            "(the keys go in ALPACA_API_KEY / ALPACA_SECRET_KEY)"
        )
    if parts.query or parts.fragment:
        raise LiveTradingRefused(f"{bad}: it must not have a query or fragment")
    return host, parts.path.rstrip("/")


def _host_kind(host: str) -> str:
    """The kind of host: "live", "paper", "loopback" (the local emulator) or "other"."""
    if host == _LIVE_HOST:
        return "live"
    if host == _PAPER_HOST:
        return "paper"
    if host == "localhost":
        return "loopback"
    try:
        return "loopback" if ipaddress.ip_address(host).is_loopback else "other"
    except ValueError:  # a name, not an address: never resolved here (DNS could lie)
        return "other"


def trading_base_url(cfg: AlpacaConfig, live_flag: bool) -> str:
    """The trading endpoint: paper unless config `allow_live` AND `--live` are both given.

    Without both opt-ins only Alpaca's paper host and loopback addresses (the emulator)
    are allowed: the live host in any spelling (case, port, scheme, path, trailing dot)
    and any other host are refused, never silently used. With both, Alpaca's paper URL
    becomes the live one and any spelling of the live host is normalised to it. A
    malformed URL (whitespace, no host, not http/https, credentials, a query) or one
    ending in /v2 is refused either way. Every refusal is a `LiveTradingRefused`.
    """
    if live_flag and not cfg.allow_live:
        raise LiveTradingRefused(
            "--live given but the config does not set alpaca.allow_live = true"
        )
    live = cfg.allow_live and live_flag
    raw = cfg.trading_url
    host, path = _split_url(raw)
    kind = _host_kind(host)
    v2 = path.lower().endswith("/v2")
    if not live and kind in ("live", "other"):
        what = (
            f"is the LIVE endpoint ({_LIVE_HOST}) but live trading needs"
            if kind == "live"
            else f"is neither Alpaca's paper endpoint ({_PAPER_HOST}) nor a loopback "
            "address; any other host needs the"
        )
        also = f"; also, {_NO_V2}" if v2 else ""
        raise LiveTradingRefused(f"alpaca.trading_url {raw!r} {what} two opt-ins: {_OPT_INS}{also}")
    if v2:
        raise LiveTradingRefused(f"alpaca.trading_url {raw!r}: {_NO_V2}")
    if kind in ("live", "paper"):
        if path:
            raise LiveTradingRefused(
                f"alpaca.trading_url {raw!r}: Alpaca's trading API takes no path ({path!r})"
            )
        return LIVE_TRADING_URL if live else PAPER_TRADING_URL
    return raw.rstrip("/")


__all__ = ["LiveTradingRefused", "trading_base_url"]
