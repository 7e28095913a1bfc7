"""The trading state: the one place that says whether the bot may open a position now.

Three modes, as nautilus_trader's risk engine names them:
- ACTIVE: entries and exits go out;
- HALTED: the kill switch (`bot halt`, or the halt file) or the daily loss halt. No new
  entry until it is lifted (`bot resume`, the halt file removed, the next session). Exits
  still go out: a halt never traps a position (nautilus's HALTED refuses those too). A
  kill switch with `flatten` has the engine close the position at market;
- REDUCING: the engine's own safety stops, which lift by themselves: the broker's position
  differs from ours, or an exit and then its stop could not be placed. Exits only.
The kill switch is read from outside (`switch`: the halt file and the state database, see
bot/store/halts.py) once at the start of each bar, so a halt is announced once and applies from
that bar on. The loss halt is saved through `save_loss_halt`, so a restart inside the
session stays halted.

The state also counts each session's orders for the `max_orders_per_day` guard, once per
client order id, when the engine submits them: an exit sent again after a refusal keeps
its id and is not counted again; a restart counts the recorded ones anew.
Imports only bot.models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.models import OrderIntent, ns_to_et, session_day


class Mode(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@dataclass(frozen=True)
class Halt:
    """A kill switch: why, and whether to close the position too."""

    reason: str
    flatten: bool = False


def _no_save(session: int, why: str) -> None:
    return None


class TradingState:
    def __init__(
        self,
        loss_limit_pct: float = 0.0,
        switch: Callable[[], Halt | None] | None = None,
        save_loss_halt: Callable[[int, str], None] = _no_save,
    ) -> None:
        self.loss_limit_pct = loss_limit_pct  # 0: no loss halt (backtests)
        self._switch = switch
        self._save_loss_halt = save_loss_halt
        self.kill: Halt | None = None  # the kill switch as read at the start of this bar
        self.halt_reason: str | None = None  # what holds entries back: kill switch or loss
        self.session = -1
        self.session_start_equity = 0.0
        self.loss_halt: str | None = None  # the current session's, once the limit is passed
        self.mismatch: str | None = None  # the broker's position differs from ours
        self.mismatch_gap = 0.0  # broker qty - ours, when the mismatch was last reported
        self.exit_failed: str | None = None  # an exit refused and its protection too
        self._sent: dict[int, set[str]] = {}  # session -> client order ids submitted

    # -- what may go out -------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        if self.halt_reason is not None:
            return Mode.HALTED
        if self.mismatch is not None or self.exit_failed is not None:
            return Mode.REDUCING
        return Mode.ACTIVE

    def entry_block(self) -> str | None:
        """Why a new entry may not go out now, or None (exits are never held back here)."""
        if self.halt_reason is not None:
            return f"halted: {self.halt_reason}"
        if self.mismatch is not None:
            return self.mismatch
        return self.exit_failed

    def orders_today(self) -> int:
        """Orders submitted for signals of the current session."""
        sent = self._sent.get(self.session)
        return 0 if sent is None else len(sent)

    # -- transitions -----------------------------------------------------------------
    def resume_session(self, session: int, start_equity: float, loss_halt: str | None) -> None:
        """Carry on a session a restart interrupted (its values come from the state store)."""
        self.session, self.session_start_equity, self.loss_halt = session, start_equity, loss_halt

    def switched(self) -> Halt | None:
        """The kill switch as it stands now (read, nothing changed)."""
        return None if self._switch is None else self._switch()

    def poll(self) -> Halt | None:
        """Read the kill switch at the start of a bar. Returns it when it is news (newly
        set, or set with another reason), so that the halt is announced once."""
        kill = self.kill = self.switched()
        if kill is None:
            # The loss halt as it stood at the end of the last bar; begin_bar() lifts it
            # for the next session from the bar after.
            self.halt_reason = self.loss_halt
            return None
        if self.halt_reason == kill.reason:
            return None
        self.halt_reason = kill.reason
        return kill

    def begin_bar(self, session: int, equity_before: float) -> None:
        """A new session starts its own loss count. The entries of its first bar are still
        held back by a loss halt of the session before (read in poll()): with daily bars
        the loss is known at the close, after that day's decisions, so the next day's
        decision is the first one it can hold back."""
        if session != self.session:
            self.session, self.session_start_equity, self.loss_halt = session, equity_before, None
            for old in [s for s in self._sent if s < session]:
                del self._sent[old]

    def end_bar(self, equity: float) -> str | None:
        """The daily loss after the bar is marked; returns a new loss halt, once."""
        limit, start = self.loss_limit_pct, self.session_start_equity
        if limit <= 0 or self.loss_halt is not None or start <= 0:
            return None
        loss_pct = (start - equity) / start * 100
        if loss_pct <= limit:
            return None
        self.loss_halt = self.halt_reason = (
            f"daily loss {loss_pct:.2f}% exceeds max_daily_loss_pct {limit:g}% "
            f"(equity {start:,.2f} -> {equity:,.2f}); entries blocked for the session"
        )
        self._save_loss_halt(self.session, self.loss_halt)
        return self.loss_halt

    def count(self, intent: OrderIntent) -> None:
        """An order submitted: counted in its signal's session, once per client order id."""
        session = session_day(ns_to_et(intent.signal_ts).date())
        if session >= self.session:  # older sessions are never asked about again
            self._sent.setdefault(session, set()).add(intent.client_order_id)


__all__ = ["Halt", "Mode", "TradingState"]
