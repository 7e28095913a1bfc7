"""The halts saved in the state database: the only module that knows their keys.

- `bot halt` sets a kill switch (`Halt`: why, and whether to close the position too);
  it survives restarts and a `--fresh` replay until `bot resume` clears it.
- The daily-loss guard saves the session it halted and why, so a restart inside that
  session stays halted (bot/guards.py).
The halt file (`paper.halt_file`) is another switch, read by bot/guards.py, not saved here.
Imports only the state store.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.state import StateStore

_REASON = "halted"  # empty when not halted
_FLATTEN = "halt_flatten"  # "1" or "0"
_LOSS = "loss_halt"  # "<session>|<why>"


@dataclass(frozen=True)
class Halt:
    reason: str
    flatten: bool = False


def saved_halt(store: StateStore) -> Halt | None:
    reason = store.get_meta(_REASON)
    return Halt(reason, store.get_meta(_FLATTEN) == "1") if reason else None


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
