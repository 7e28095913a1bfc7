"""What `bot levels suggest` shows and writes: the ranked table, the TOML snippet to paste
into the watchlist, levels.json, and the folder with the chart.

Presentation only: takes a finished `Suggestion` and decides nothing. The snippet's
levels carry where they came from (`source`: the pivots' dates and the as-of date) and
what was measured (`note`), so a pasted level keeps its evidence (bot/watchlist.py).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from bot.levels.suggest import SuggestedLevel, Suggestion
from bot.settings import LevelsConfig

DATES_NAMED = 4  # pivot dates named in a level's source; the rest are counted
SOURCE_MAX = 300  # bot.watchlist.Level.source's limit


def distance_pct(level: SuggestedLevel, close: float) -> float:
    return (level.price / close - 1) * 100


def _dates(days: list[date]) -> str:
    named = ", ".join(d.isoformat() for d in days[:DATES_NAMED])
    more = len(days) - DATES_NAMED
    return f"{named} and {more} more" if more > 0 else named


def source_text(s: Suggestion, level: SuggestedLevel, step: float) -> str:
    """Where the level came from: its pivots' dates (or the round number), and when."""
    tail = f" (bot levels suggest, as of {s.day(s.t).isoformat()})"
    if level.kind == "round":
        return f"round number, a multiple of {step:g}{tail}"
    parts = []
    for kind in ("high", "low"):
        days = [s.day(p.index) for p in level.pivots if p.kind == kind]
        if days:
            parts.append(f"swing {kind}{'s' if len(days) > 1 else ''} {_dates(days)}")
    text = " and ".join(parts) + tail
    return text if len(text) <= SOURCE_MAX else text[: SOURCE_MAX - 3] + "..."


def note_text(s: Suggestion, level: SuggestedLevel) -> str:
    n = level.touches.count
    times = "once" if n == 1 else f"{n} times"
    last = s.day(level.touches.last).isoformat() if level.touches.last is not None else "never"
    return f"touched {times}, last {last}"


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def toml_snippet(s: Suggestion, symbol: str, step: float) -> str:
    """A `[watchlist.SYMBOL]` table with the suggested levels, ready to paste."""
    lines = [
        f"# bot levels suggest {symbol} --asof {s.day(s.t).isoformat()}: {len(s.levels)} "
        "level(s); merge into an existing table of this symbol",
        f"[watchlist.{symbol}]",
        "levels = [",
    ]
    for lv in s.levels:
        lines.append(
            f"  {{ price = {lv.price!r}, source = {_toml_str(source_text(s, lv, step))}, "
            f"note = {_toml_str(note_text(s, lv))} }},"
        )
    lines.append("]")
    return "\n".join(lines) + "\n"


def as_json(s: Suggestion, symbol: str, cfg: LevelsConfig) -> dict[str, Any]:
    """Everything the table shows, machine-readable, with the settings used."""
    return {
        "symbol": symbol,
        "asof": s.day(s.t).isoformat(),
        "close": s.close,
        "window": {"from": s.day(s.start).isoformat(), "bars": s.t - s.start + 1},
        "settings": cfg.model_dump(mode="json"),
        "pivots": s.pivots,
        "candidates": s.candidates,
        "kept": s.kept,
        "levels": [
            {
                "rank": rank,
                "price": lv.price,
                "kind": lv.kind,
                "pivots": [
                    {"date": s.day(p.index).isoformat(), "price": p.price, "kind": p.kind}
                    for p in lv.pivots
                ],
                "touches": lv.touches.count,
                "last_touch": (
                    s.day(lv.touches.last).isoformat() if lv.touches.last is not None else None
                ),
                "strength": round(lv.strength, 4),
                "distance_pct": round(distance_pct(lv, s.close), 4),
            }
            for rank, lv in enumerate(s.levels, start=1)
        ],
    }


def summary_line(s: Suggestion, min_touches: int) -> str:
    return (
        f"{len(s.levels)} shown of {s.kept} level(s) touched at least {min_touches} times "
        f"({s.candidates} measured), from {s.pivots} pivots in the {s.t - s.start + 1} bars "
        f"{s.day(s.start).isoformat()} .. {s.day(s.t).isoformat()}"
    )


def levels_table(s: Suggestion, symbol: str) -> Table:
    title = f"{symbol} levels as of {s.day(s.t).isoformat()} (close {s.close:,.2f})"
    table = Table(title=title, title_justify="left")
    for name in (
        "rank",
        "level",
        "kind",
        "pivots",
        "touches",
        "last touch",
        "strength",
        "vs close",
    ):
        left = name in ("kind", "last touch")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    for rank, lv in enumerate(s.levels, start=1):
        last = lv.touches.last
        table.add_row(
            str(rank),
            f"{lv.price:,.2f}",
            lv.kind,
            str(len(lv.pivots)),
            str(lv.touches.count),
            s.day(last).isoformat() if last is not None else "-",
            f"{lv.strength:.2f}",
            f"{distance_pct(lv, s.close):+.2f}%",
        )
    return table


def write_outputs(s: Suggestion, symbol: str, cfg: LevelsConfig, folder: Path) -> dict[str, Path]:
    """levels.toml, levels.json and levels.png in `folder` (made if missing)."""
    from bot.levels.chart import render_levels_chart  # matplotlib: only when writing

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "toml": folder / "levels.toml",
        "json": folder / "levels.json",
        "chart": folder / "levels.png",
    }
    files["toml"].write_text(toml_snippet(s, symbol, cfg.round_step), encoding="utf-8")
    text = json.dumps(as_json(s, symbol, cfg), indent=2) + "\n"
    files["json"].write_text(text, encoding="utf-8")
    render_levels_chart(s, symbol, files["chart"])
    return files


__all__ = ["as_json", "levels_table", "summary_line", "toml_snippet", "write_outputs"]
