"""A local Alpaca-compatible paper broker: HTTP on 127.0.0.1, replaying CSV bars.

The real alpaca-py SDK talks to it (`url_override=server.url`) in tests and offline
runs. Fills use `bot.broker.matching` and the account uses `bot.engine.portfolio`, the same code as
the backtest. This package must not import alpaca-py (only bot/alpaca does).
By default it is as strict as Alpaca wherever it models Alpaca (asynchronous cancels
and replaces, replace refusals, partial fills, bracket groups, Alpaca's refusals,
today's bar and late prints, the free data plan, rate limits, day orders that end with
their session); each strictness has a knob on `EmulatorState` (and
`POST /_emulator/config`) to turn it off: see bot/emulator/knobs.py.
`Faults.reject_next` rejects orders after they were accepted.
The bot's side of the admin routes (replay clock, fingerprint): `EmulatorAdmin` in
bot/emulator/client.py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.emulator.datastream import DataHub
    from bot.emulator.errors import ApiError
    from bot.emulator.faults import Faults
    from bot.emulator.server import EmulatorServer, build_state, serve
    from bot.emulator.state import EmulatorState
    from bot.emulator.stream import StreamHub
    from bot.emulator.streamfaults import StreamFaults

# Loaded on first use (PEP 562): `bot paper` imports bot.emulator.client for its error
# type, and must not pay for FastAPI and uvicorn when it trades Alpaca.
_WHERE = {
    "ApiError": "errors",
    "DataHub": "datastream",
    "EmulatorServer": "server",
    "EmulatorState": "state",
    "Faults": "faults",
    "StreamFaults": "streamfaults",
    "StreamHub": "stream",
    "build_state": "server",
    "serve": "server",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'bot.emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.emulator.{_WHERE[name]}"), name)


__all__ = [
    "ApiError",
    "DataHub",
    "EmulatorServer",
    "EmulatorState",
    "Faults",
    "StreamFaults",
    "StreamHub",
    "build_state",
    "serve",
]
