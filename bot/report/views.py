"""Rich tables for the terminal: signal timelines, strategy status, trades, `bot status`.

Presentation only: takes finished results, prints them, decides nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.data.load import LoadResult
from bot.models import Direction, Signal, Trade, ns_to_et
from bot.strategy import StrategyStatus


class Fitted:
    """A table that wraps instead of truncating: `wide` when the console has room for it
    (its reason column at least at its minimum width), else `narrow`, which stacks the
    same cells into fewer columns. Rich would otherwise cut a date to "2026-01-…" and
    squeeze the reason column out of an 80-column terminal."""

    def __init__(self, wide: Table, narrow: Table) -> None:
        self.wide, self.narrow = wide, narrow

    def pick(self, console: Console, options: ConsoleOptions) -> Table:
        need = self.wide.__rich_measure__(console, options.update_width(10_000)).minimum
        return self.wide if need <= options.max_width else self.narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.pick(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.pick(console, options))


def signal_table(
    signals: Sequence[Signal], title: str, history: Sequence[str | None] = ()
) -> Fitted:
    """Time, kind, the strategy's details (its columns: the first signal's), reason, and
    under it the signal's base rate (`history`, one per signal) where there is one."""
    details = signals[0].details() if signals else ()
    wide = Table(title=title, title_justify="left")
    wide.add_column("time", no_wrap=True)
    wide.add_column("kind", no_wrap=True)
    for d in details:
        numeric = not isinstance(d.value, str)
        wide.add_column(d.header, justify="right" if numeric else "left", no_wrap=True)
    wide.add_column("reason", overflow="fold", min_width=30)
    narrow = Table(title=title, title_justify="left")
    narrow.add_column("time", no_wrap=True)
    narrow.add_column("signal", no_wrap=True)
    narrow.add_column("reason", overflow="fold")
    for i, s in enumerate(signals):
        # Green for signals that open longs (or close shorts), red for the others.
        kind = f"[{'green' if s.enters is Direction.LONG else 'red'}]{escape(str(s.kind))}[/]"
        cells = s.details()
        said = history[i] if i < len(history) else None
        reason = escape(s.reason) + ("" if said is None else f"\n[dim]history: {escape(said)}[/]")
        wide.add_row(_when(s.time), kind, *(escape(d.text) for d in cells), reason)
        lines = [kind, *(escape(f"{d.header} {d.text}") for d in cells if d.text)]
        narrow.add_row(_when(s.time, "\n"), "\n".join(lines), reason)
    return Fitted(wide, narrow)


def _when(t: datetime, sep: str = " ") -> str:
    """A date alone for daily bars (midnight), else date and minute."""
    return t.strftime(f"%Y-%m-%d{sep}%H:%M") if t.hour or t.minute else t.date().isoformat()


def status_table(status: StrategyStatus, last_close: float, last_ts: int) -> Table:
    when = ns_to_et(last_ts)
    stamp = (
        when.date().isoformat()
        if not (when.hour or when.minute)
        else when.strftime("%Y-%m-%d %H:%M")
    )
    table = Table(title=f"Status at {stamp}: last close {last_close:.2f}", title_justify="left")
    subject = status.subject
    for col in (subject, "value", "side", f"close vs {subject} %", "note"):
        table.add_column(col)
    for r in status.rows:
        table.add_row(
            escape(r.name),
            "" if r.value is None else f"{r.value:.2f}",
            escape(r.side),
            "" if r.distance_pct is None else f"{r.distance_pct:+.2f}",
            escape(r.note),
        )
    return table


def make_console() -> Console:
    """A console wide enough for the signal table even when output is piped."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=200)


def print_load_summary(
    console: Console, loaded: LoadResult, log_file: Path | None, limit: int = 10
) -> None:
    """What the loader read; the first `limit` rejected rows and notes, the rest in
    `log_file` (all of them are shown when there is no log file)."""
    bars = loaded.bars
    console.print(
        f"Read {len(bars)} {bars.timeframe} bars from {bars.source}"
        + (f"; {len(loaded.rejected)} row(s) rejected" if loaded.rejected else "")
        + (f"; {len(loaded.notes)} note(s)" if loaded.notes else ""),
        markup=False,
    )
    show = limit if log_file is not None else max(len(loaded.rejected), len(loaded.notes))
    for rej in loaded.rejected[:show]:
        console.print(f"  [yellow]rejected[/] {escape(str(rej))}")
    for note in loaded.notes[:show]:
        console.print(f"  [dim]{escape(note)}[/]")
    hidden = max(0, len(loaded.rejected) - show) + max(0, len(loaded.notes) - show)
    if hidden:
        console.print(f"  ... {hidden} more, all in {log_file}", markup=False)


def signals_jsonl(signals: Sequence[Signal], history: Sequence[str | None] = ()) -> str:
    """One JSON object a signal, its symbol first (a watchlist prints several symbols'),
    with its `base_rate` sentence where it has one."""
    out = []
    for i, s in enumerate(signals):
        row = {"symbol": s.symbol, **s.as_dict()}
        said = history[i] if i < len(history) else None
        if said is not None:
            row["base_rate"] = said
        out.append(json.dumps(row))
    return "\n".join(out)


def trades_table(trades: Sequence[Trade], limit: int = 50) -> Fitted:
    wide = Table(title=f"{len(trades)} trade(s)", title_justify="left")
    for col in ("entry", "price", "exit", "price ", "qty", "P&L", "level"):
        right = col in ("price", "price ", "qty", "P&L")
        wide.add_column(col, justify="right" if right else "left", no_wrap=True)
    wide.add_column("exit reason", overflow="fold", min_width=24)
    narrow = Table(title=f"{len(trades)} trade(s)", title_justify="left")
    narrow.add_column("entry", no_wrap=True)
    narrow.add_column("exit", no_wrap=True)
    narrow.add_column("qty, P&L", justify="right", no_wrap=True)
    narrow.add_column("level, exit reason", overflow="fold")
    shown = trades if len(trades) <= limit else trades[-limit:]
    for t in shown:
        pnl = f"[{'green' if t.pnl >= 0 else 'red'}]{t.pnl:,.2f}[/]"
        wide.add_row(
            _stamp(t.entry_ts),
            f"{t.entry_price:.2f}",
            _stamp(t.exit_ts),
            f"{t.exit_price:.2f}",
            f"{t.qty:g}",
            pnl,
            escape(t.level),
            escape(t.exit_reason),
        )
        narrow.add_row(
            f"{_stamp(t.entry_ts, chr(10))}\n@ {t.entry_price:.2f}",
            f"{_stamp(t.exit_ts, chr(10))}\n@ {t.exit_price:.2f}",
            f"{t.qty:g}\n{pnl}",
            f"{escape(t.level)}\n{escape(t.exit_reason)}",
        )
    if len(trades) > limit:
        wide.caption = narrow.caption = f"last {limit} of {len(trades)} shown; all in trades.csv"
    return Fitted(wide, narrow)


def _stamp(ts: int, sep: str = " ") -> str:
    return _when(ns_to_et(ts), sep)


@contextmanager
def progress_bar(
    console: Console, total: int, what: str, min_total: int = 50_000, unit: str = "bars"
) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar for long runs; short runs get none (they finish before it draws).
    It counts `unit`s; the callable it gives takes how many are done so far."""
    if total < min_total:
        yield None
        return
    with Progress(
        TextColumn(f"{what}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} " + unit),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as prog:
        task = prog.add_task(what, total=total)
        yield lambda done: prog.update(task, completed=done)


def status_view(console: Console, st: Any, symbol: str) -> None:
    """`bot status`: position, P&L, orders, the strategy's status, last signals, halt."""
    head = "[red]HALTED[/]: " + escape(st.halted) if st.halted else "[green]trading allowed[/]"
    alive = st.runner.startswith("running")
    console.print(f"{symbol}: {head}; [{'green' if alive else 'yellow'}]{escape(st.runner)}[/]")
    pnl = None if st.equity is None else st.equity - st.initial_cash
    console.print(
        f"position {st.position:g} shares"
        + (f" @ {st.avg_price:.2f}" if st.position else "")
        + f"; cash {st.cash:,.2f}; equity "
        + ("n/a" if st.equity is None else f"{st.equity:,.2f}")
        + ("" if pnl is None else f"; P&L {pnl:+,.2f} (realised {st.realized:+,.2f})")
    )
    if st.last_close is not None:
        console.print(status_table(st.strategy, st.last_close, _ts_of(st.last_bar_time)))
    orders = Table(title=f"{len(st.open_orders)} open order(s)", title_justify="left")
    for col in ("client order id", "side", "qty", "type", "status", "purpose", "stop"):
        orders.add_column(col, overflow="fold")  # wrap, never cut an order id
    for o in st.open_orders:
        orders.add_row(
            o["client_order_id"], o["side"], f"{o['qty']:g}", o["type"], o["status"], o["purpose"],
            "" if o["stop_price"] is None else f"{o['stop_price']:.2f}",
        )  # fmt: skip
    console.print(orders)
    sigs = Table(title="last signals", title_justify="left")
    for col in ("time", "signal", "close", "reason"):
        sigs.add_column(col, overflow="fold", min_width=10 if col == "time" else None)
    for sg in st.signals:
        # `label` is the signal in a few words (states written before it existed: the kind).
        sigs.add_row(
            str(sg["time"])[:16],
            str(sg.get("label") or sg.get("kind", "")),
            f"{sg['close']:.2f}",
            str(sg.get("reason", "")),
        )
    console.print(sigs)


def watchlist_status_view(console: Console, statuses: dict[str, Any]) -> None:
    """`bot status` of a run of several symbols on one account: the account, then one row
    per symbol (position, last close, where it stands against what its strategy watches,
    its last signal), then every open order."""
    first = next(iter(statuses.values()))
    head = (
        "[red]HALTED[/]: " + escape(first.halted) if first.halted else "[green]trading allowed[/]"
    )
    alive = first.runner.startswith("running")
    console.print(
        f"{', '.join(statuses)}: {head}; [{'green' if alive else 'yellow'}]"
        f"{escape(first.runner)}[/]"
    )
    initial = first.initial_cash
    cash = initial + sum(st.cash - initial for st in statuses.values())
    latest = max(statuses.values(), key=lambda st: st.last_bar_time or "")
    equity = latest.equity
    console.print(
        f"one account: cash {cash:,.2f}; equity "
        + ("n/a" if equity is None else f"{equity:,.2f}; P&L {equity - initial:+,.2f}")
        + f" (realised {sum(st.realized for st in statuses.values()):+,.2f})"
    )
    table = Table(title="By symbol", title_justify="left")
    for col in ("symbol", "position", "last close", "watching (close vs it %)", "last signal"):
        table.add_column(col, overflow="fold", justify="right" if col == "position" else "left")
    for sym, st in statuses.items():
        rows = [
            f"{r.name} {'' if r.value is None else f'{r.value:.2f}'} "
            + ("" if r.distance_pct is None else f"({r.distance_pct:+.2f}%)")
            for r in st.strategy.rows
        ]
        last = st.signals[-1] if st.signals else None
        said = (
            f"{str(last['time'])[:10]} {last.get('label') or last.get('kind', '')}"
            if last
            else "none yet"
        )
        table.add_row(
            sym,
            f"{st.position:g}" + (f" @ {st.avg_price:.2f}" if st.position else ""),
            "n/a"
            if st.last_close is None
            else f"{st.last_close:.2f} ({str(st.last_bar_time)[:10]})",
            escape("\n".join(rows)),
            escape(said),
        )
    console.print(table)
    orders = Table(
        title=f"{sum(len(st.open_orders) for st in statuses.values())} open order(s)",
        title_justify="left",
    )
    for col in ("symbol", "client order id", "side", "qty", "type", "status", "purpose"):
        orders.add_column(col, overflow="fold")
    for sym, st in statuses.items():
        for o in st.open_orders:
            orders.add_row(
                sym, o["client_order_id"], o["side"], f"{o['qty']:g}", o["type"], o["status"],
                o["purpose"],
            )  # fmt: skip
    console.print(orders)


def _ts_of(iso: str | None) -> int:
    from datetime import datetime

    from bot.models import et_to_ns

    return 0 if iso is None else et_to_ns(datetime.fromisoformat(iso))


def symbols_table(per_symbol: dict[str, dict[str, Any]]) -> Table:
    """One row per symbol of a portfolio run: its trades and its share of the account's
    P&L (its contribution curve's return)."""
    table = Table(title="By symbol (one account)", title_justify="left")
    for col in ("symbol", "trades", "win rate", "P&L", "contribution", "max drawdown"):
        table.add_column(col, justify="left" if col == "symbol" else "right")
    for sym, m in per_symbol.items():
        pnl = float(m["final_equity"]) - float(m["initial_cash"])
        win = m.get("win_rate_pct")
        table.add_row(
            sym,
            f"{m['trades']:,}",
            "n/a" if win is None else f"{win:.0f}%",
            f"[{'green' if pnl >= 0 else 'red'}]{pnl:,.2f}[/]",
            f"{m['total_return_pct']:+.2f}%",
            f"{m['max_drawdown_pct']:+.2f}%",
        )
    return table
