"""A study in the terminal: the table (its cells are the HTML report's too).

One row per tier, level and horizon: the number of events, the false-break rate, the
mean and median forward return and the hit rate with their 95% intervals, and the mean
excursions; "too few events (n)" stands where n < `min_events`, never a number. A
terminal too narrow for a row a line stacks the same cells into five columns (`Fitted`).
Decides nothing: the figures are bot/study/stats.py's; the JSON is bot/study/export.py's.
"""

from __future__ import annotations

from rich.table import Table

from bot.models import ns_to_et
from bot.report.views import Fitted
from bot.study.events import LABELS
from bot.study.run import Study
from bot.study.stats import Estimate, Summary


def _est(e: Estimate | None, signed: bool = True) -> str:
    if e is None:
        return ""
    f = "{:+.2f}" if signed else "{:.1f}"
    return f"{f.format(e.value)} ({f.format(e.low)}..{f.format(e.high)})"


COLUMNS = ("level", "tier", "events", "false break", "bars", "mean % (95% CI)",
           "median % (95% CI)", "hit % (95% CI)", "MFE / MAE %")  # fmt: skip


def study_rows(study: Study) -> list[list[str]]:
    """The table's cells (COLUMNS), the terminal's and the HTML's; the baseline last."""
    rows = []
    for t in study.tiers:
        rows += summary_rows(f"{t.level:g}", LABELS[t.tier], t.summary)
    return rows + summary_rows("all bars", "baseline", study.baseline)


def summary_rows(level: str, tier: str, s: Summary) -> list[list[str]]:
    """One row per horizon, the tier's own cells on the first; one row when too few."""
    if s.too_few:
        return [[level, tier, str(s.events), "", "", f"too few events ({s.events})", "", "", ""]]
    fb = s.false_breaks
    false = ""
    if fb is not None:
        false = f"too few ({fb.n})" if fb.rate is None else f"{fb.rate:.1f}% ({fb.false}/{fb.n})"
    x = s.excursions
    exc = f"too few ({x.n})"
    if x.mfe_mean is not None and x.mae_mean is not None:
        exc = f"{x.mfe_mean:+.2f} / {x.mae_mean:+.2f}"
    rows = []
    for k, h in enumerate(s.horizons):
        head = [level, tier, str(s.events), false] if k == 0 else ["", "", "", ""]
        if h.mean is None:
            cells = [f"too few events ({h.n})", "", ""]
        else:
            cells = [_est(h.mean), _est(h.median), _est(h.hit, signed=False)]
        rows.append([*head, str(h.bars), *cells, exc if k == 0 else ""])
    return rows


def study_table(study: Study) -> Fitted:
    """One row a line where the console has room for it, else the narrow form."""
    cfg = study.config
    title = (
        f"{study.symbol}: levels over {study.bars:,} bars, "
        f"{_day(study.start_ts)} to {_day(study.end_ts)}"
    )
    caption = (
        f"false break: a close back through the level within {cfg.false_within} bars; "
        f"MFE / MAE: mean excursions over {max(cfg.horizons)} bars"
    )
    wide = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for k, name in enumerate(COLUMNS):
        wide.add_column(name, justify="left" if k < 2 else "right", no_wrap=True)
    narrow = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    narrow.add_column("level / tier", min_width=12)
    narrow.add_column("events", justify="right", no_wrap=True)
    narrow.add_column("bars", justify="right", no_wrap=True)
    narrow.add_column("return % (95% CI)", no_wrap=True)
    narrow.add_column("false break, MFE / MAE %", min_width=12)
    rows = study_rows(study)
    for k, row in enumerate(rows):
        if row[0] == "all bars" and (k == 0 or rows[k - 1][0] != "all bars"):
            wide.add_section()
            narrow.add_section()
        wide.add_row(*row)
        narrow.add_row(*_stacked(row))
    return Fitted(wide, narrow)


def _stacked(row: list[str]) -> list[str]:
    """A row of COLUMNS as the narrow table's five cells."""
    level, tier, events, false, bars, mean, median, hit, exc = row
    names = ("mean", "median", "hit")
    figures = "\n".join(f"{n:<6} {v}" for n, v in zip(names, (mean, median, hit), strict=True))
    if not median:  # "too few events (n)", alone
        figures = mean
    side = "\n".join(x for x in (false, f"{exc}" if exc else "") if x)
    return [f"{level}\n{tier}" if level else "", events, bars, figures, side]


def _day(ts: int) -> str:
    t = ns_to_et(ts)
    return t.strftime("%Y-%m-%d %H:%M") if t.hour or t.minute else t.date().isoformat()
