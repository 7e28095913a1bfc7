"""Client order ids: the one place that builds them.

Every order the bot sends carries a deterministic id, so a retry or a restart rebuilds the
very same id for the same decision and the broker's uniqueness check turns a repeated POST
into a refusal, never a second order (shared/ref/alpaca-api.md: a 504 retry and
"client_order_id must be unique"). A decision's id is `client_order_id`; every other id
is its own id plus a suffix, through `derived`:
- `-sl` / `-tp`: the stop-loss and take-profit legs of a bracket (SimBroker's names;
  Alpaca names the legs itself);
- `-sl<n>`: the n-th stop that replaces a position's stop;
- `-oco`: a stop and take-profit pair put back as one OCO order;
- `-rs<bar time>`: a stop put back after a refused exit;
- `-x<n>`: the n-th resend of an exit that ended part-filled (an id is never reusable at
  Alpaca, even after a cancel: alpacahq/alpaca-py#260).
An id is at most `MAX_LEN` characters (Alpaca's limit); a long base is cut before its
suffix, never the suffix, so derived ids stay apart. Imports nothing but bot.models.
"""

from __future__ import annotations

import re

from bot.models import ns_to_et

MAX_LEN = 128
_ATTEMPT = re.compile(r"(.*)-x(\d+)")


def _stamp(ts: int) -> str:
    return ns_to_et(ts).strftime("%Y%m%dT%H%M")


def client_order_id(prefix: str, symbol: str, tag: str, ts: int, action: str) -> str:
    """`lb-BABA-r163.43-20260113T0000-buy`: same signal, same id, every time. The
    strategy gives the prefix and the tag as written in ids (`Signal.id_tag`)."""
    cid = f"{prefix[:12]}-{symbol}-{tag}-{_stamp(ts)}-{action}"
    return cid[:MAX_LEN]


def derived(base: str, suffix: str) -> str:
    """`base` + `suffix`, within MAX_LEN characters (the base is cut, the suffix kept)."""
    return base[: MAX_LEN - len(suffix)] + suffix


def leg_id(parent: str, leg: str) -> str:
    """`leg`: "sl" (the stop-loss) or "tp" (the take-profit)."""
    return derived(parent, f"-{leg}")


def moved_stop_id(family: str, n: int) -> str:
    return derived(family, f"-sl{n}")


def oco_id(stop_id: str) -> str:
    return derived(stop_id, "-oco")


def restored_stop_id(exit_id: str, ts: int) -> str:
    return derived(exit_id, f"-rs{_stamp(ts)}")


def next_attempt(cid: str) -> str:
    """`x` -> `x-x1` -> `x-x2` ..."""
    m = _ATTEMPT.fullmatch(cid)
    return derived(m[1], f"-x{int(m[2]) + 1}") if m else derived(cid, "-x1")
