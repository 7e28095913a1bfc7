"""The verdict on the final choice: may `--write-config` write it?

The final window's choice is the set to trade from now on. The evidence against it,
each item naming its window and metric (z is the objective's neutral value, 1 for
profit_factor and 0 for the others):

1. in sample: on the final train window, the very bars it was chosen on, it lost
   money (total return < 0) or its objective is below z: it was merely the least bad;
2. out of sample, the set itself: over the walk-forward test windows its mean total
   return is below 0, or its flag (mean IS vs mean OOS objective, bot.sweep.select)
   is collapsed or lost;
3. out of sample, the way it was chosen: the stitched walk-forward curve (each test
   window traded with the set chosen on the train window before it) lost money.

With any of these, `--write-config` refuses to write the set unless `--force` is
given, and says why in one line. Presentation of evidence only: computes no metric
and imports no engine code.
"""

from __future__ import annotations

from pathlib import Path

from bot.sweep.metrics import COL, OBJECTIVES, Row
from bot.sweep.output import describe, fmt, span_text
from bot.sweep.prepare import Prepared
from bot.sweep.select import NEUTRAL, Choice, ComboSummary, Rules


def _below(name: str, value: float | int | None, limit: float, unit: str = "") -> str | None:
    if value is None or value >= limit:
        return None
    return f"{name} {fmt(value)}{unit} < {limit:g}"


def _lost(row: Row, rules: Rules) -> list[str]:
    """The figures of a run that show a loss: total return, then the objective."""
    z = NEUTRAL.get(rules.objective, 0.0)
    metric = OBJECTIVES[rules.objective]
    found = [_below("total return", row[COL["total_return_pct"]], 0.0, "%")]
    if metric != "total_return_pct":
        found.append(_below(rules.objective, row[COL[metric]], z))
    return [f for f in found if f is not None]


def concerns(
    prep: Prepared,
    rules: Rules,
    final: Choice,
    summary: ComboSummary | None,
    walk_forward: Row | None,
) -> list[str]:
    """Why the final choice should not be traded (empty: nothing against it)."""
    if final.index is None or final.is_row is None:
        return []
    s, plan = prep.series, prep.plan
    out: list[str] = []
    lost = _lost(final.is_row, rules)
    if lost:
        where = f"final train window {span_text(s, final.train)} (in sample)"
        out.append(f"{where}: {', '.join(lost)}")
    if summary is not None:
        found: list[str] = []
        oos_return = summary.oos_mean[COL["total_return_pct"]]
        if oos_return is not None and oos_return < 0:
            found.append(f"mean total return {fmt(oos_return)}% < 0")
        if summary.flag in ("collapsed", "lost"):
            found.append(
                f"flag {summary.flag} (mean {rules.objective} IS {fmt(summary.is_objective)}, "
                f"OOS {fmt(summary.oos_objective)})"
            )
        if found:
            where = f"its {plan.windows} walk-forward test window(s) (out of sample)"
            out.append(f"{where}: {', '.join(found)}")
    if walk_forward is not None:
        ret = _below("total return", walk_forward[COL["total_return_pct"]], 0.0, "%")
        if ret is not None:
            span = (plan.tests[0][0], plan.tests[-1][1])
            out.append(
                f"walk-forward out of sample, stitched {span_text(s, span)} (each test "
                f"window traded with the set chosen before it): {ret}"
            )
    return out


def verdict_line(prep: Prepared, final: Choice, found: list[str]) -> str:
    """The summary line on the final choice (terminal and report)."""
    if final.index is None:
        return "final choice: none (no set met the constraints on the final window)"
    if not found:
        return (
            "final choice: no loss in sample on the final window, none out of sample, not collapsed"
        )
    return "final choice NOT recommended: " + "; ".join(found)


def refusal(path: Path, prep: Prepared, final: Choice, found: list[str]) -> str:
    """The one line of a refused `--write-config`."""
    if final.index is None:
        return f"no parameter set met the constraints on the final window; {path} not written"
    chosen = describe(prep.grid.names, prep.grid.combo(final.index))
    return (
        f"refusing to write {path}: the chosen set ({chosen}) does not hold up: "
        + "; ".join(found)
        + "; pass --force to write it anyway"
    )
