"""One readable line per decision event, for the console and `logs/bot.log`.

The JSON event (logs/events.jsonl) carries every field; the line says what a person
needs: what happened, to which order, and, for problems, what to do about it. This
module imports nothing from the project.
"""

from __future__ import annotations

from typing import Any


def human(kind: str, f: dict[str, Any], with_symbol: bool = False) -> str:
    """One readable line per decision, for the console and bot.log; `with_symbol`: a run
    of several symbols, whose lines say which one after the date."""
    line = _line(kind, f)
    sym = f.get("symbol")
    if with_symbol and sym:
        if kind in ("signal", "fill", "late"):
            return line.replace(" ", f" {sym} ", 1)
        if kind == "trade":
            return line.replace("TRADE  ", f"TRADE  {sym} ", 1)
    return line


def _line(kind: str, f: dict[str, Any]) -> str:
    day = str(f.get("time") or f.get("bar_time") or f.get("signal_time") or "")[:10]
    if kind == "signal":
        return f"{day} SIGNAL {f['label']}: {f['reason']}"
    if kind == "order_intent":
        return (
            f"{day} ORDER  {f['side']} {f['qty']:g} {f['symbol']} ({f['purpose']}), "
            f"client order id {f['client_order_id']}"
        )
    if kind == "fill":
        return f"{day} FILL   {f['side']} {f['qty']:g} @ {f['price']:.2f} ({f['client_order_id']})"
    if kind == "trade":
        return (
            f"TRADE  {f['side']} {f['qty']:g}: {str(f['entry_time'])[:10]} @ "
            f"{f['entry_price']:.2f} -> {str(f['exit_time'])[:10]} @ {f['exit_price']:.2f}, "
            f"P&L {f['pnl']:+,.2f}"
        )
    if kind == "position_mismatch":
        if f.get("resolved"):
            return (
                f"POSITION {f['symbol']}: the broker's position ({f['broker_qty']:g}) matches "
                "the bot's again; entries allowed"
            )
        return (
            f"POSITION MISMATCH {f['symbol']}: the broker holds {f['broker_qty']:g} shares, the "
            f"bot's record says {f['local_qty']:g}. New entries are halted; exits are capped "
            f"at the broker's position. To resolve: {f['resolve']}."
        )
    if kind == "late":
        return (
            f"{day} LATE   {f['purpose']} {f['client_order_id']} sent late for the bar of "
            f"{str(f['bar_time'])[:10]}: {f['why']}"
        )
    # The symbol is left to the JSON line (and `bot logs`): a run of one names it in its
    # ORDER lines, a run of several in every decision line (`with_symbol`).
    rest = " ".join(f"{k}={v}" for k, v in f.items() if v not in (None, "", []) and k != "symbol")
    return f"{kind.upper():<6} {rest}"


__all__ = ["human"]
