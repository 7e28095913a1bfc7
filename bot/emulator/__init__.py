"""A local Alpaca-compatible paper broker: HTTP on 127.0.0.1, replaying CSV bars.

The real alpaca-py SDK talks to it (`url_override=server.url`) in tests and offline
runs. Fills use `bot.matching` and the account uses `bot.portfolio`, the same code as
the backtest. This package must not import alpaca-py (only bot/alpaca.py does).
By default it is as strict as Alpaca wherever it models Alpaca (asynchronous cancels
and replaces, replace refusals, partial fills, bracket groups, Alpaca's refusals,
today's bar and late prints, the free data plan, rate limits, day orders that end with
their session); each strictness has a knob on `EmulatorState` (and
`POST /_emulator/config`) to turn it off: see bot/emulator/knobs.py.
`Faults.reject_next` rejects orders after they were accepted.
The bot's side of the admin routes (replay clock, fingerprint): `EmulatorAdmin` in
bot/emulator/client.py.
"""

from bot.emulator.errors import ApiError
from bot.emulator.faults import Faults
from bot.emulator.server import EmulatorServer, build_state, serve
from bot.emulator.state import EmulatorState
from bot.emulator.stream import StreamHub
from bot.emulator.streamfaults import StreamFaults

__all__ = [
    "ApiError",
    "EmulatorServer",
    "EmulatorState",
    "Faults",
    "StreamFaults",
    "StreamHub",
    "build_state",
    "serve",
]
