"""The dashboard's live feed: server-sent events from the journal and the state.

Every `poll_s` it reads the journal's new bytes (a tail by byte offset, from its size at
connection: the page fetched the earlier events itself) and sends each complete line as
`event: journal`; and when the state directory changed (bot/dashboard/data.py
`signature`), or every `refresh_s` anyway (the heartbeat ages, and a runner that died
writes nothing), it rebuilds the summary and sends it as `event: summary` if it differs
from the last one sent. A journal cut shorter (rotated, rewritten) is read again from its
start. Plain text/event-stream over starlette's StreamingResponse: no SSE library needed
for one-way lines. Imports no web framework itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.dashboard import data
from bot.settings import Settings

KEEPALIVE_S = 15.0  # a comment line, so proxies and browsers keep an idle stream open


def sse(event: str, payload: str) -> str:
    """One server-sent event; a payload of several lines becomes several data lines."""
    lines = "".join(f"data: {line}\n" for line in payload.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


class JournalTail:
    """New complete lines of a file, by byte offset (a partial last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def read(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:  # truncated or replaced: start again
            self.offset = 0
        if size == self.offset:
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(size - self.offset)
        end = chunk.rfind(b"\n") + 1  # only whole lines; the writer may be mid-line
        self.offset += end
        text = chunk[:end].decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()]


async def events(
    settings: Settings,
    disconnected: Callable[[], Awaitable[bool]],
    poll_s: float = 0.5,
    refresh_s: float = 5.0,
) -> AsyncIterator[str]:
    """The stream of one client, until it disconnects."""
    tail = JournalTail(data.journal_file(settings))
    loop = asyncio.get_running_loop()
    last_sig: tuple[float, ...] | None = None
    last_sent, last_built, last_write = "", float("-inf"), loop.time()
    while not await disconnected():
        now = loop.time()
        chunks: list[str] = [sse("journal", line) for line in tail.read()]
        sig = data.signature(settings)
        if sig != last_sig or now - last_built >= refresh_s:
            # reading the state takes milliseconds of SQLite: off the event loop
            found: dict[str, Any] = await asyncio.to_thread(data.summary, settings)
            last_sig, last_built = sig, now
            found.pop("generated_at", None)  # not a change by itself
            text = json.dumps(found)
            if text != last_sent:
                chunks.append(sse("summary", text))
                last_sent = text
        if not chunks and now - last_write >= KEEPALIVE_S:
            chunks.append(": keep-alive\n\n")
        if chunks:
            last_write = now
            yield "".join(chunks)
        await asyncio.sleep(poll_s)
