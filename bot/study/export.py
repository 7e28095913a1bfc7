"""A study as JSON: everything, machine-readable (the table is bot/study/report.py's).

The settings, every figure with its sample size and what it means (`DEFINITIONS`), and
every event with its own outcome: its forward returns, false break and excursions, null
where the bars after it ran out. NaN is never written (`allow_nan=False`): a figure that
does not exist is null.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bot.models import ns_to_et
from bot.study.events import DIRECTIONS, LABELS
from bot.study.run import Study, TierStudy
from bot.study.stats import Summary

DEFINITIONS = {
    "returns": "(close[i+h] / close[i] - 1) * 100 for the event's bar i, negated for a down "
    "event: positive is a move in the event's direction; only events with h bars after them",
    "hit": "% of forward returns above zero",
    "ci": "95% bootstrap percentile interval (seeded; the same report on every run)",
    "false_break": "a close back through the level within false_within bars after the event",
    "excursions": "over the longest horizon after the event, in % of its close, signed in its "
    "direction: MFE from the best high (low), MAE from the worst low (high)",
    "baseline": "every bar of the range as an up event",
    "too_few": "null figures: fewer than min_events values",
}


def study_json(study: Study) -> dict[str, Any]:
    """Everything, as plain JSON values (NaN becomes null)."""
    tiers = [_tier_json(t) for t in study.tiers]
    levels = sorted({t.level for t in study.tiers})
    return {
        "symbol": study.symbol,
        "source": study.source,
        "rules": study.rules,
        "from": ns_to_et(study.start_ts).isoformat(),
        "to": ns_to_et(study.end_ts).isoformat(),
        "bars": study.bars,
        "minute_days": study.minute_days,
        "config": study.config.model_dump(),
        "definitions": DEFINITIONS,
        "levels": [
            {"level": lv, "tiers": {t["tier"]: t for t in tiers if t["level"] == lv}}
            for lv in levels
        ],
        "baseline": _summary_json(study.baseline),
    }


def _summary_json(s: Summary) -> dict[str, Any]:
    out = asdict(s)
    out["too_few"] = s.too_few
    return out


def _tier_json(t: TierStudy) -> dict[str, Any]:
    o = t.outcomes
    events = []
    for k, e in enumerate(t.events):
        fb = None if o.false_break is None else _num(o.false_break[k])
        events.append(
            {
                "time": ns_to_et(e.ts).isoformat(),
                "bar": e.index,
                "close": e.close,
                "minute_time": None if e.minute_ts is None else ns_to_et(e.minute_ts).isoformat(),
                "break_bar": e.origin,
                "returns": {str(h): _num(r[k]) for h, r in o.returns.items()},
                "false_break": None if fb is None else bool(fb),
                "mfe": _num(o.mfe[k]),
                "mae": _num(o.mae[k]),
            }
        )
    return {
        "level": t.level,
        "tier": t.tier,
        "label": LABELS[t.tier],
        "direction": DIRECTIONS[t.tier],
        "count": len(t.events),
        **{k: v for k, v in _summary_json(t.summary).items() if k != "events"},
        "events": events,
    }


def _num(x: float | np.floating[Any]) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v


def write_json(study: Study, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(study_json(study), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
