"""What each symbol of a scan is judged with: its strategy config, its levels and its
peak window.

A symbol of the watchlist is scanned as every command sees it (`Settings.for_symbol`:
its overrides over [strategy] and [risk], its levels with their sources). A symbol
outside it has no levels of its own (a resistance price belongs to one stock), so it is
scanned with the [strategy] and [risk] tables and no fixed levels: only its 52-week peak
and, when the strategy watches one, the strategy's own moving levels
(`settings_outside_watchlist`). `Settings.for_symbol` keeps refusing such a symbol, as
it should for trading. Knows no particular strategy: fields are read by name, with
defaults. Imports nothing that trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from bot.config_load import ConfigError
from bot.settings import Settings
from bot.strategy import StrategyConfig
from bot.watchlist import Level, WatchEntry, WatchlistError, merged_strategy

__all__ = ["PEAK_SESSIONS", "Target", "settings_outside_watchlist", "targets_for"]

PEAK_SESSIONS = 252  # the 52-week window when the strategy has no `peak_lookback_sessions`


@dataclass(frozen=True)
class Target:
    """One symbol to scan, and what it is scanned with."""

    symbol: str
    strategy: StrategyConfig
    levels: tuple[Level, ...]
    peak_sessions: int
    watched: bool  # in the watchlist (its own rules and levels), else [strategy] alone


def settings_outside_watchlist(settings: Settings, symbol: str) -> Settings:
    """`settings` as a symbol outside the watchlist is scanned: that symbol, the
    [strategy] table without its fixed levels (a strategy without a `levels` key keeps
    its table unchanged) and the [risk] table. ConfigError when the strategy refuses to
    run without fixed levels (it would watch nothing)."""
    sym = symbol.strip().upper()
    try:
        strategy = merged_strategy(settings.strategy, WatchEntry(levels=[]))
    except ValidationError as exc:
        why = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigError(
            f"{sym} is not in the watchlist, so it is scanned with [strategy] and no fixed "
            f"levels, which [strategy] refuses: {why}"
        ) from None
    return settings.model_copy(update={"symbol": sym, "strategy": strategy})


def targets_for(settings: Settings, symbols: Sequence[str]) -> list[Target]:
    """Each symbol with its rules: the watchlist's (`settings.symbols`: without a
    [watchlist] that is `symbol` alone) or those of `settings_outside_watchlist`, built
    once for all the symbols outside it."""
    watched = set(settings.symbols)
    outside: StrategyConfig | None = None
    out: list[Target] = []
    for sym in symbols:
        if sym in watched:
            try:
                cfg = settings.for_symbol(sym).strategy
            except WatchlistError as exc:  # not expected: the symbol is in the list
                raise ConfigError(str(exc)) from None
            levels = tuple(settings.levels_of(sym))
        else:
            if outside is None:
                outside = settings_outside_watchlist(settings, sym).strategy
            cfg, levels = outside, ()
        peak = getattr(cfg, "peak_lookback_sessions", PEAK_SESSIONS)
        out.append(Target(sym, cfg, levels, int(peak), sym in watched))
    return out
