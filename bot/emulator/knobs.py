"""The emulator's settings ("knobs"): their kinds, their checks, and setting them.

Each is an `EmulatorState` constructor argument and attribute of the same name, and can
be changed at run time with `POST /_emulator/config` (bot/emulator/admin.py). The
strictness knobs default to Alpaca's behaviour (the emulator is never kinder than
Alpaca); each can be turned off. Where each is modelled, and the Alpaca doc it follows:

- `cancel_latency_s` (0.3) / `replace_latency_s` (0.3): asynchronous cancel and replace,
  `pending_cancel` / `pending_replace` for that many wall-clock seconds; 0 = at once
  (bot/emulator/lifecycle.py, bot/emulator/replace.py).
- `strict_replace_status` (True): no replace while `accepted` or `pending_new`.
- `replace_oto_legs` (False): a leg of an `oto` order cannot be replaced; True allows it.
- `data_plan` ("free"): SIP younger than 15 minutes refused; "unlimited" serves it
  (bot/emulator/bars.py).
- `partial_fill_rate` (0.1) and `partial_fill_seed` (0): seeded partial fills; 0 = off
  (bot/emulator/fills.py).
- `bracket_groups` (True): cancelling one order of a bracket/OTO/OCO group cancels the
  group (lifecycle.py).
- `held_stop_leg` (True): the stop leg of a filled bracket/OTO entry shows `held`, as
  Alpaca does, while it still triggers (fills.py). The bot tells such an armed leg from
  one waiting for its entry (bot/broker/protection.py).
- `order_refusals` (True): sub-penny prices, `extended_hours` on an advanced order, a
  bracket/OTO used as an exit, and stop legs checked against the current price too
  (bot/emulator/orders.py, bot/emulator/checks.py).
- `todays_bar` (True): the current session's daily bar served as it stands;
  `late_print_s` (600): the final daily bar is revised once that long after the close,
  0 = final at once (bot/emulator/barview.py).
- `rate_limit_per_min` (200): requests per key and minute, 0 = no limit and no
  `X-RateLimit-*` headers; `forbidden_style` (False): wrong keys get 403
  {"message": "forbidden."} instead of 401 (bot/emulator/ratelimit.py, app.py).
- `intraday_day_orders` (True): a `day` order placed in a session expires at that
  session's close (EmulatorState.day_close).
Plus the account settings `bars_page_size`, `slippage_bps`, `commission_per_share`,
`commission_min` and `shorting`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.emulator.state import EmulatorState

DATA_PLANS = ("free", "unlimited")


@dataclass(frozen=True)
class Knob:
    kind: str  # "number" | "int" | "flag" | "choice"
    least: float | None = 0.0
    most: float | None = None
    choices: tuple[str, ...] = ()


KNOBS: dict[str, Knob] = {
    "bars_page_size": Knob("int", 1),
    "slippage_bps": Knob("number"),
    "commission_per_share": Knob("number"),
    "commission_min": Knob("number"),
    "shorting": Knob("flag"),
    "cancel_latency_s": Knob("number"),
    "replace_latency_s": Knob("number"),
    "strict_replace_status": Knob("flag"),
    "replace_oto_legs": Knob("flag"),
    "data_plan": Knob("choice", choices=DATA_PLANS),
    "partial_fill_rate": Knob("number", 0.0, 1.0),
    "partial_fill_seed": Knob("int", None),
    "bracket_groups": Knob("flag"),
    "held_stop_leg": Knob("flag"),
    "order_refusals": Knob("flag"),
    "todays_bar": Knob("flag"),
    "late_print_s": Knob("number"),
    "rate_limit_per_min": Knob("int"),
    "forbidden_style": Knob("flag"),
    "intraday_day_orders": Knob("flag"),
}


def coerce(name: str, value: Any) -> Any:
    """`value` as the knob's type, or ValueError saying why not (booleans are never
    numbers, numbers never booleans)."""
    knob = KNOBS.get(name)
    if knob is None:
        raise ValueError(f"unknown setting {name}; known: {', '.join(KNOBS)}")
    if knob.kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not true or false")
        return value
    if knob.kind == "choice":
        if value not in knob.choices:
            raise ValueError(f"{name} must be one of {', '.join(knob.choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: {value!r} is not a number")
    if knob.kind == "int" and not float(value).is_integer():
        raise ValueError(f"{name}: {value!r} is not a whole number")
    if knob.least is not None and value < knob.least:
        raise ValueError(f"{name} must be >= {knob.least:g}")
    if knob.most is not None and value > knob.most:
        raise ValueError(f"{name} must be <= {knob.most:g}")
    return int(value) if knob.kind == "int" else float(value)


def configure(state: EmulatorState, values: dict[str, Any]) -> None:
    """Check every value first, then set them all (all or nothing). A new
    `partial_fill_seed` restarts the partial-fill draws."""
    checked = {name: coerce(name, value) for name, value in values.items()}
    for name, value in checked.items():
        setattr(state, name, value)
    if "partial_fill_seed" in checked:
        reseed(state)


def current(state: EmulatorState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in KNOBS}


def reseed(state: EmulatorState) -> None:
    state.partial_rng = random.Random(state.partial_fill_seed)
