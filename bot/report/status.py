"""`bot status`: what the paper bot holds and knows, read from its state database.

Reads only (the runner may be running): position and P&L from the recorded fills and
equity snapshots, open orders, the strategy's status (it is replayed over the stored
bars), the last signals, whether trading is halted, and
whether a runner is alive (its heartbeat is fresh and its process exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine.portfolio import Portfolio
from bot.settings import Settings
from bot.store.halts import saved_halt
from bot.store.lock import heartbeat_limit, pid_alive, read_heartbeat
from bot.store.state import StateError, StateStore
from bot.strategy import StrategyStatus
from strategies import build_strategy


@dataclass
class Status:
    position: float
    avg_price: float
    cash: float
    equity: float | None
    initial_cash: float
    realized: float
    open_orders: list[dict[str, Any]]
    strategy: StrategyStatus
    last_close: float | None
    last_bar_time: str | None
    signals: list[dict[str, Any]]
    halted: str | None
    runner: str = "never ran"  # running or not, from the heartbeat and its process


def runner_state(state_dir: Path, heartbeat_s: float) -> str:
    """Whether a runner is alive: its heartbeat is fresh and its process exists. A bot
    killed with -9 leaves a heartbeat that only ages."""
    beat = read_heartbeat(state_dir)
    if beat is None:
        return "not running (no heartbeat yet)"
    age, pid, what = beat
    fresh = age <= heartbeat_limit(heartbeat_s)
    if fresh and pid_alive(pid):
        return f"running (pid {pid}, {what or 'trading'}; heartbeat {age:,.0f} s ago)"
    gone = "" if pid_alive(pid) else f", process {pid} gone"
    return f"not running (last heartbeat {age:,.0f} s ago{gone})"


def read_status(settings: Settings) -> Status:
    path = Path(settings.paper.state_dir) / "state.sqlite"
    if not path.exists():
        raise StateError(f"no state at {path}: the paper bot has not run with this state_dir yet")
    store = StateStore(path, settings.symbol)
    try:
        initial = float(store.get_meta("initial_cash") or settings.broker.initial_cash)
        p = Portfolio(initial)
        for f in store.fills():
            p.apply(f)
        bars = store.bars()
        strategy = build_strategy(settings.strategy)
        for b in bars:
            strategy.on_bar(b)
        eq = store.equity_rows()
        halt_file = Path(settings.paper.halt_file)
        halt = saved_halt(store)
        halted = (halt.reason if halt else None) or (
            f"halt file {halt_file} exists" if halt_file.exists() else None
        )
        orders = [
            {
                "client_order_id": r.client_order_id,
                "side": str(r.side),
                "qty": r.qty,
                "type": str(r.type),
                "status": r.status,
                "purpose": r.purpose,
                "stop_price": r.stop_price,
            }
            for r in store.orders(open_only=True)
        ]
        return Status(
            position=p.qty,
            avg_price=p.avg_price,
            cash=p.cash,
            equity=eq[-1][1] if eq else None,
            initial_cash=initial,
            realized=p.realized,
            open_orders=orders,
            strategy=strategy.status(),
            last_close=bars[-1].close if bars else None,
            last_bar_time=bars[-1].time.isoformat() if bars else None,
            signals=store.signals()[-5:],
            halted=halted,
            runner=runner_state(Path(settings.paper.state_dir), settings.paper.heartbeat_s),
        )
    finally:
        store.close()
