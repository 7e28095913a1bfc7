"""What a scan shows: scan.csv, scan.html (one self-contained file: no script, no link)
and the terminal table of the top rows. Presentation only: the rows arrive sorted
(bot.scan.run) and nothing here decides or reorders.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from bot.scan.measure import NO_DATA, ScanRow

__all__ = ["COLUMNS", "top_table", "write_csv", "write_html"]

COLUMNS = (
    "symbol",
    "status",
    "rules",
    "bars",
    "last_date",
    "last_close",
    "peak_52w",
    "peak_date",
    "peak_distance_pct",
    "levels",
    "nearest_level",
    "level_distance_pct",
    "signals",
    "note",
)
NEAR_PCT = 2.0  # a close this close to the peak or a level is marked in the HTML table

STYLE = """body{font-family:sans-serif;margin:1.5em}
table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
td.l,th.l{text-align:left}.up{color:#070}.down{color:#b00}
.near{font-weight:bold}.sig{background:#fff6d5}.none{color:#888}"""


def _num(x: float | None, digits: int) -> str:
    return "" if x is None else repr(round(x, digits))


def _fixed(x: float | None, digits: int = 2, sign: bool = False) -> str:
    if x is None:
        return ""
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def rules_text(row: ScanRow) -> str:
    return "watchlist" if row.watched else "[strategy], no levels"


def levels_text(row: ScanRow) -> str:
    return " | ".join(lv.describe() for lv in row.levels)


def signals_text(row: ScanRow, sep: str = "; ") -> str:
    return sep.join(s.text() for s in row.signals)


def write_csv(path: Path, rows: Sequence[ScanRow]) -> Path:
    """One line per symbol, in the order given; prices and distances unrounded but for
    float noise (6 and 4 decimals)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(
                [
                    r.symbol,
                    r.status,
                    rules_text(r),
                    r.bars,
                    r.last_date,
                    _num(r.last_close, 6),
                    _num(r.peak, 6),
                    r.peak_date,
                    _num(r.peak_distance_pct, 4),
                    levels_text(r),
                    _num(r.nearest_level, 6),
                    _num(r.level_distance_pct, 4),
                    signals_text(r),
                    r.note,
                ]
            )
    return path


def _dist_cell(x: float | None) -> str:
    if x is None:
        return "<td></td>"
    cls = ["up" if x >= 0 else "down"] + (["near"] if abs(x) <= NEAR_PCT else [])
    return f'<td class="{" ".join(cls)}">{_fixed(x, sign=True)}</td>'


def _html_row(n: int, r: ScanRow) -> str:
    e = html.escape
    if r.status == NO_DATA:
        cells = [f"<td>{n}</td>", f'<td class="l">{e(r.symbol)}</td>']
        cells.append(f'<td class="l none" colspan="10">no data: {e(r.note)}</td>')
        return "<tr>" + "".join(cells) + "</tr>"
    sig = "<br>".join(e(s.text()) for s in r.signals)
    cells = [
        f"<td>{n}</td>",
        f'<td class="l">{e(r.symbol)}</td>',
        f'<td class="l">{e(r.last_date)}</td>',
        f"<td>{_fixed(r.last_close)}</td>",
        f"<td>{_fixed(r.peak)}</td>",
        f'<td class="l">{e(r.peak_date)}</td>',
        _dist_cell(r.peak_distance_pct),
        f'<td class="l">{e(levels_text(r)) or "<span class=none>none</span>"}</td>',
        f"<td>{_fixed(r.nearest_level)}</td>",
        _dist_cell(r.level_distance_pct),
        f'<td class="l{" sig" if sig else ""}">{sig}</td>',
        f'<td class="l">{e(r.note)}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def write_html(path: Path, rows: Sequence[ScanRow], title: str, lines: Sequence[str]) -> Path:
    """The rows as one HTML table, in the order given, with `lines` above it."""
    head = ["#", "symbol", "last bar", "close", "52w peak", "peak made", "vs peak %"]
    head += ["levels", "nearest level", "vs level %", "signals", "note"]
    left = {"symbol", "last bar", "peak made", "levels", "signals", "note"}
    ths = "".join(f"<th{' class=l' if h in left else ''}>{html.escape(h)}</th>" for h in head)
    body = "\n".join(_html_row(i, r) for i, r in enumerate(rows, start=1))
    intro = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{intro}\n"
        f"<table><thead><tr>{ths}</tr></thead><tbody>\n{body}\n</tbody></table></body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def top_table(rows: Sequence[ScanRow], n: int, total: int) -> Table:
    """The first `n` rows with bars, for the terminal."""
    shown = [r for r in rows if r.status != NO_DATA][:n]
    table = Table(
        title=f"Nearest to the 52-week peak: {len(shown)} of {total} symbol(s)",
        title_justify="left",
    )
    for col in ("symbol", "last bar", "close", "52w peak", "vs peak %", "nearest level"):
        table.add_column(col, justify="left" if col in ("symbol", "last bar") else "right")
    table.add_column("vs level %", justify="right")
    table.add_column("signals", overflow="fold", min_width=20)
    for r in shown:
        table.add_row(
            escape(r.symbol),
            r.last_date,
            _fixed(r.last_close),
            _fixed(r.peak),
            _fixed(r.peak_distance_pct, sign=True),
            _fixed(r.nearest_level),
            _fixed(r.level_distance_pct, sign=True),
            escape(signals_text(r, "\n")),
        )
    return table
