"""Run a strategy over a bar series and collect its signals (no orders, no account).

Used by `bot signals`. The strategy sees every bar from the start of the series, so
bars before `--from` warm its indicators up; only signals inside the asked
range are returned, and published as the `signal` events a paper run publishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import events as ev
from bot.data.series import BarSeries
from bot.events.sinks import Publisher
from bot.models import Signal
from bot.strategy import Strategy


@dataclass
class ScanResult:
    signals: list[Signal]
    bars_fed: int
    first_ts: int | None  # first bar of the reported range


def scan(
    strategy: Strategy,
    series: BarSeries,
    start: int = 0,
    stop: int | None = None,
    events: Publisher | None = None,
) -> ScanResult:
    """Feed bars [0, stop) to the strategy; keep the signals of bars [start, stop)."""
    stop = len(series) if stop is None else stop
    publish = events.publish if events is not None else None
    signals: list[Signal] = []
    on_bar = strategy.on_bar
    for i, bar in enumerate(series.iter_bars(0, stop)):
        sigs = on_bar(bar)
        if sigs and i >= start:
            signals.extend(sigs)
            if publish is not None:
                for sig in sigs:
                    publish(ev.Signal.of(sig))
    first = int(series.ts[start]) if start < stop else None
    return ScanResult(signals, stop, first)
