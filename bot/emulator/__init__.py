"""A local Alpaca-compatible paper broker: HTTP on 127.0.0.1, replaying CSV bars.

The real alpaca-py SDK talks to it (`url_override=server.url`) in tests and offline
runs. Fills use `bot.matching` and the account uses `bot.portfolio`, the same code as
the backtest. This package must not import alpaca-py (only bot/alpaca.py does).
Knobs on `EmulatorState` (and `POST /_emulator/config`) make it as strict as Alpaca
where a lenient default is kept for now: asynchronous cancels and replaces, replace
refusals by status and for OTO legs, the free data plan (see bot/emulator/state.py);
`Faults.reject_next` rejects orders after they were accepted.
"""

from bot.emulator.errors import ApiError
from bot.emulator.faults import Faults
from bot.emulator.server import EmulatorServer, build_state, serve
from bot.emulator.state import EmulatorState

__all__ = ["ApiError", "EmulatorServer", "EmulatorState", "Faults", "build_state", "serve"]
