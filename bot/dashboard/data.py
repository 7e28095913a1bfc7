"""What the dashboard shows, read from a paper run's state directory and journal.

Reads only, whether or not the runner is running (SQLite in WAL mode lets it write
meanwhile): `bot status`'s reading (bot/report/status.py read_status) per watched symbol,
the watchlist levels with their notes and the distance of the last close to each, the
account's equity curve (one row per processed bar), the alert outbox with each alert's
delivery status, the heartbeat, and the journal's events (bot/events/logview.py, as
`bot logs` reads them). Everything comes back as plain JSON-ready dicts. A state directory
the bot never ran on is reported as such, never created. Imports no web framework.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from bot.events import logview
from bot.models import ns_to_et
from bot.report.status import Status, read_status, runner_state
from bot.settings import Settings
from bot.store.lock import read_heartbeat
from bot.store.outbox import OutboxStore
from bot.store.state import StateError, StateStore

CHART_BARS = 250  # a year of daily bars: enough context around the levels, a small payload
ALERTS_SHOWN = 100


def state_file(settings: Settings) -> Path:
    return Path(settings.paper.state_dir) / "state.sqlite"


def journal_file(settings: Settings) -> Path:
    return Path(settings.paper.log_dir) / "events.jsonl"


def signature(settings: Settings) -> tuple[float, ...]:
    """Changes whenever the runner writes: the state file, its WAL and the heartbeat
    (mtime and size), so the stream rebuilds the summary only when something moved."""
    state_dir = Path(settings.paper.state_dir)
    out: list[float] = []
    for name in ("state.sqlite", "state.sqlite-wal", "heartbeat", "HALT"):
        try:
            st = os.stat(state_dir / name)
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


def _symbol_view(settings: Settings, sym: str, st: Status | None) -> dict[str, Any]:
    """One watchlist row: the last close, each level with its notes and distance, the
    position and the strategy's other watched values (the 52-week peak...)."""
    last = st.last_close if st else None
    levels = [
        {
            "price": lv.price,
            "source": lv.source,
            "note": lv.note,
            "review": lv.review.isoformat() if lv.review else None,
            # signed: + when the close is above the level
            "distance_pct": None if last is None else round((last / lv.price - 1) * 100, 3),
        }
        for lv in settings.levels_of(sym)
    ]
    view: dict[str, Any] = {"symbol": sym, "levels": levels, "last_close": last}
    if st is None:
        return view | {"last_bar_time": None, "position": 0.0, "signals": [], "watching": []}
    return view | {
        "last_bar_time": st.last_bar_time,
        "position": st.position,
        "avg_price": st.avg_price,
        "realized": st.realized,
        "unrealized": (st.position * (last - st.avg_price)) if (last and st.position) else 0.0,
        "open_orders": st.open_orders,
        "signals": st.signals,
        "watching": [
            {"name": r.name, "value": r.value, "distance_pct": r.distance_pct, "note": r.note}
            for r in st.strategy.rows
        ],
    }


def _equity_curve(path: Path) -> list[dict[str, Any]]:
    """The account's equity at each processed bar. The engines of a watchlist share one
    account and each writes the account's equity, so at a time shared by several
    symbols any one row is the account's (the last written is kept)."""
    store = StateStore(path)
    try:
        by_ts = {ts: (eq, cash) for ts, eq, cash, _qty in store.equity_rows()}
    finally:
        store.close()
    return [
        {"time": ns_to_et(ts).isoformat(), "equity": eq, "cash": cash}
        for ts, (eq, cash) in sorted(by_ts.items())
    ]


def _alerts(path: Path) -> list[dict[str, Any]]:
    outbox = OutboxStore(path)
    try:
        rows = outbox.rows()
    finally:
        outbox.close()
    rows.sort(key=lambda r: r.created_at, reverse=True)
    return [
        {
            "alert_id": r.alert_id,
            "kind": r.kind,
            "symbol": r.symbol,
            "title": r.title,
            "channel": r.channel,
            "status": r.status,
            "attempts": r.attempts,
            "created_at": r.created_at,
            "sent_at": r.sent_at,
            "error": r.error,
        }
        for r in rows[:ALERTS_SHOWN]
    ]


def summary(settings: Settings) -> dict[str, Any]:
    """Everything the page shows except the bars and the events (fetched apart)."""
    state_dir = Path(settings.paper.state_dir)
    runner = runner_state(state_dir, settings.paper.heartbeat_s)
    beat = read_heartbeat(state_dir)
    out: dict[str, Any] = {
        "generated_at": time.time(),
        "state_dir": str(state_dir),
        "journal": str(journal_file(settings)),
        "running": runner.startswith("running"),
        "runner": runner,
        "heartbeat_age_s": None if beat is None else round(beat[0], 1),
        "state_found": state_file(settings).exists(),
        "error": None,
        "halted": None,
        "account": None,
        "equity": [],
        "alerts": [],
    }
    statuses: dict[str, Status | None] = {sym: None for sym in settings.symbols}
    if out["state_found"]:
        try:
            for sym in statuses:
                statuses[sym] = read_status(settings.for_symbol(sym))
            out["equity"] = _equity_curve(state_file(settings))
            out["alerts"] = _alerts(state_file(settings))
        except StateError as exc:  # a damaged file: say so on the page, never "flat"
            out["error"] = str(exc)
            statuses = {sym: None for sym in settings.symbols}
    else:
        out["error"] = f"no state at {state_file(settings)}: the paper bot has not run here yet"
    out["symbols"] = [_symbol_view(settings, sym, st) for sym, st in statuses.items()]
    found = [st for st in statuses.values() if st is not None]
    if found:
        first = found[0]
        latest = max(found, key=lambda st: st.last_bar_time or "")
        out["halted"] = first.halted
        out["account"] = {
            "initial_cash": first.initial_cash,
            # each engine books its own fills from the shared initial cash
            "cash": first.initial_cash + sum(st.cash - first.initial_cash for st in found),
            "equity": latest.equity,
            "realized": sum(st.realized for st in found),
        }
    return out


def bars_view(settings: Settings, symbol: str, limit: int = CHART_BARS) -> dict[str, Any]:
    """A symbol's chart: its last `limit` stored bars, its levels, signals and fills."""
    settings = settings.for_symbol(symbol)
    sym = settings.symbol
    out: dict[str, Any] = {
        "symbol": sym,
        "levels": [{"price": lv.price, "source": lv.source} for lv in settings.levels_of(sym)],
        "bars": [],
        "signals": [],
        "fills": [],
    }
    if not state_file(settings).exists():
        return out
    store = StateStore(state_file(settings), sym)
    try:
        bars, signals, fills = store.bars()[-limit:], store.signals(), store.fills()
    finally:
        store.close()
    out["bars"] = [
        {"t": b.time.isoformat(), "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": b.volume}
        for b in bars
    ]
    first = bars[0].ts if bars else 0
    out["signals"] = [s for s in signals if int(s.get("ts", 0)) >= first]
    out["fills"] = [
        {
            "t": ns_to_et(f.ts).isoformat(),
            "side": str(f.side),
            "qty": f.qty,
            "price": f.price,
            "purpose": f.purpose,
            "client_order_id": f.client_order_id,
        }
        for f in fills
        if f.ts >= first
    ]
    return out


def events_view(
    path: Path, kinds: list[str] | None = None, limit: int = 200, run: str = "latest"
) -> list[dict[str, Any]]:
    """The journal's last `limit` events of the last run (or `run`: an id, "all"), of
    `kinds` only when given. LogError for an unknown kind or a line that is not JSON."""
    logview.check_kinds(kinds)
    run_id = logview.last_run_id(path) if run == "latest" else (None if run == "all" else run)
    chosen = logview.select(logview.read_events(path), kinds, None, run_id)
    return list(deque(chosen, maxlen=max(limit, 1)))
