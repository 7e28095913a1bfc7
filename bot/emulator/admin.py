"""Admin routes under /_emulator (they need the account's keys; never faulted) and stats.

    POST /_emulator/advance  {"until": iso}   -> {"now", "bars_processed", "fills", "expired"}
    GET  /_emulator/state                      -> {"now", "account", "positions", "orders", "fills"}
    GET  /_emulator/stats                      -> {"requests", "by_route", "order_posts",
                                                   "orders_created"}
    GET|POST /_emulator/faults  {settings...}  -> the current fault settings
    POST /_emulator/position {"symbol", "qty", "avg_entry_price"} -> the position (or null)
    POST /_emulator/reset {"cash"?, "now"?}    -> {"now", "cash"}
    POST /_emulator/config {knob: value, ...}    -> every knob's current value
    GET  /_emulator/fingerprint?symbol=&start_ns=&end_ns= -> {"symbol", "timeframe",
         "bars", "digest"} of the bars orders fill on, stamped in [start_ns, end_ns]
Tests and the CLI drive the replay clock with these, and `bot paper --emulator-url`
checks with `fingerprint` that the emulator fills on the bars it replays; a bot trading
never calls them. The knobs
(names, rules, defaults, the Alpaca docs they follow) are in bot/emulator/knobs.py; an
unknown name or a bad value is refused with 422 and nothing is changed. `reject_next`
is a fault. Admin requests are not counted by the rate limit.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Request

from bot.emulator import knobs
from bot.emulator.errors import invalid
from bot.emulator.faults import Faults
from bot.emulator.jsonfmt import parse_time, utc_iso
from bot.emulator.query import int_param
from bot.emulator.state import EmulatorState


class Stats:
    """What reached the server: counts per route and per client order id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.order_posts: Counter[str] = Counter()

    def record(self, route: str, client_order_id: str | None = None) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1
            if client_order_id is not None:
                self.order_posts[client_order_id] += 1


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def admin_router(state: EmulatorState, faults: Faults, stats: Stats) -> APIRouter:
    router = APIRouter(prefix="/_emulator")

    @router.post("/advance")
    def advance(body: Any = Body(None)) -> dict[str, Any]:
        until = _object(body).get("until")
        if not isinstance(until, str):
            raise invalid('advance needs {"until": "<ISO 8601 time>"}')
        with state.lock:
            return state.advance(parse_time(until, "until"))

    @router.get("/state")
    def show_state() -> dict[str, Any]:
        with state.locked():
            orders = [
                {
                    "id": o.id,
                    "client_order_id": o.client_order_id,
                    "symbol": o.symbol,
                    "status": o.status,
                    "qty": o.qty,
                    "filled_qty": o.filled_qty,
                    "filled_avg_price": o.filled_avg_price,
                    "side": str(o.side),
                    "type": str(o.type),
                    "time_in_force": o.time_in_force,
                    "limit_price": o.limit_price,
                    "stop_price": o.stop_price,
                    "order_class": o.order_class,
                    "parent_id": o.parent_id,
                    "replaces": o.replaces,
                    "replaced_by": o.replaced_by,
                    "created_at": utc_iso(o.created_at),
                    "filled_at": utc_iso(o.filled_at),
                }
                for o in state.book.orders.values()
            ]
            return {
                "now": utc_iso(state.now),
                "account": state.account_json(),
                "positions": state.positions_json(),
                "orders": orders,
                "fills": list(state.fills),
            }

    @router.get("/stats")
    def show_stats() -> dict[str, Any]:
        with stats._lock:
            out: dict[str, Any] = {
                "requests": stats.requests,
                "by_route": dict(stats.by_route),
                "order_posts": dict(stats.order_posts),
            }
        with state.lock:
            out["orders_created"] = dict(state.book.created_per_client_id)
        return out

    @router.get("/faults")
    def show_faults() -> dict[str, Any]:
        return faults.as_dict()

    @router.post("/faults")
    def set_faults(body: Any = Body(None)) -> dict[str, Any]:
        faults.configure(_object(body))
        return faults.as_dict()

    @router.post("/position")
    def inject(body: Any = Body(None)) -> dict[str, Any] | None:
        data = _object(body)
        try:
            symbol = str(data["symbol"])
            qty, price = float(data["qty"]), float(data.get("avg_entry_price", 0))
        except (KeyError, TypeError, ValueError):
            raise invalid('position needs {"symbol", "qty", "avg_entry_price"}') from None
        with state.lock:
            state.inject_position(symbol, qty, price)
            return state.position_json(symbol) if qty else None

    @router.post("/reset")
    def reset(body: Any = Body(None)) -> dict[str, Any]:
        data = _object(body)
        now = parse_time(str(data["now"]), "now") if data.get("now") is not None else None
        cash = data.get("cash")
        if cash is not None and (isinstance(cash, bool) or not isinstance(cash, int | float)):
            raise invalid("cash must be a number")
        with state.lock:
            state.reset(None if cash is None else float(cash), now)
            stats.clear()
            return {"now": utc_iso(state.now), "cash": state.account.cash}

    @router.get("/fingerprint")
    def fingerprint(request: Request) -> dict[str, Any]:
        q = dict(request.query_params)
        symbol = q.get("symbol", "").upper()
        span = [int_param(q, k, -1, 0, 2**63 - 1) for k in ("start_ns", "end_ns")]
        if not symbol or -1 in span:
            raise invalid("fingerprint needs symbol, start_ns and end_ns (UTC nanoseconds)")
        with state.lock:
            if symbol not in state.market.tracks:
                return {"symbol": symbol, "timeframe": None, "bars": 0, "digest": None}
            bars = state.track(symbol).bars
            lo = int(np.searchsorted(bars.ts, span[0], side="left"))
            hi = int(np.searchsorted(bars.ts, span[1], side="right"))
            part = bars.slice(lo, hi)
        return {
            "symbol": symbol,
            "timeframe": str(part.timeframe),
            "bars": len(part),
            "digest": part.digest(),
        }

    @router.post("/config")
    def configure(body: Any = Body(None)) -> dict[str, Any]:
        data = _object(body)
        with state.lock:
            try:
                knobs.configure(state, data)  # checks them all before setting any
            except ValueError as exc:
                raise invalid(str(exc)) from None
            return knobs.current(state)

    return router
