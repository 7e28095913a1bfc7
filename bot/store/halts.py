"""The halts saved in the state database: the only module that knows their keys.

- `bot halt` sets a kill switch (`Halt`: why, and whether to close the position too);
  it survives restarts and a `--fresh` replay until `bot resume` clears it.
- The daily-loss halt saves the session it halted and why, so a restart inside that
  session stays halted (bot/engine/tradingstate.py).
The halt file (`paper.halt_file`) is another switch, not saved here; `kill_switch` reads
both as the engine's trading state sees them. Imports only the state store and the trading
state's `Halt`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.engine.tradingstate import Halt as Halt  # re-exported: `bot halt` builds one to save
from bot.store.state import StateStore

_REASON = "halted"  # empty when not halted
_FLATTEN = "halt_flatten"  # "1" or "0"
_LOSS = "loss_halt"  # "<session>|<why>"


def saved_halt(store: StateStore) -> Halt | None:
    reason = store.get_meta(_REASON)
    return Halt(reason, store.get_meta(_FLATTEN) == "1") if reason else None


def kill_switch(
    store: StateStore, halt_file: Path | None, flatten_on_halt: bool = False
) -> Callable[[], Halt | None]:
    """The kill switch as one reading: the halt file first, then `bot halt`'s saved halt;
    the position is closed too if the config says so or `bot halt --flatten` did."""

    def read() -> Halt | None:
        saved = saved_halt(store)
        if halt_file is not None and halt_file.exists():
            reason = f"halt file {halt_file} exists"
        elif saved is not None:
            reason = saved.reason
        else:
            return None
        return Halt(reason, flatten_on_halt or (saved is not None and saved.flatten))

    return read


def save_halt(store: StateStore, halt: Halt | None) -> None:
    """Set the kill switch, or clear it with None (`bot resume`). A running bot may read
    between the two writes: the flag it acts on (the reason) is written last when set and
    first when cleared, so it never sees a halt with the previous halt's flatten."""
    if halt is None:
        store.set_meta(_REASON, "")
        store.set_meta(_FLATTEN, "0")
        return
    store.set_meta(_FLATTEN, "1" if halt.flatten else "0")
    store.set_meta(_REASON, halt.reason)


def save_loss_halt(store: StateStore, session: int, why: str) -> None:
    store.set_meta(_LOSS, f"{session}|{why}")


def loss_halt_of(store: StateStore, session: int) -> str | None:
    """Why the daily-loss guard halted `session`, if it did."""
    saved = (store.get_meta(_LOSS) or "").split("|", 1)
    return saved[1] if len(saved) == 2 and saved[0] == str(session) else None
