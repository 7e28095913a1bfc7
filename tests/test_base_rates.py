"""Base rates beside alerts and signals (issue 16 item 2): the past cases of the same tier
at the same level whose outcome had closed before, counted here independently from
data/BABA_1d.csv with the csv module and plain loops (the study's rules, bot/study:
an intraday cross up is a session whose high reaches the level after a close below it;
"held" is the close `hold_bars` (5) sessions later beyond the level; the median is the
price change over those 5 sessions, in %).
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.data.store import BarStore
from tests.conftest import PROJECT_ROOT
from tests.test_replay_day import scripted_day

LEVEL = 163.43
HOLD = 5


def daily() -> list[dict[str, str]]:
    with (PROJECT_ROOT / "data" / "BABA_1d.csv").open(newline="") as fh:
        return sorted(
            csv.DictReader(fh), key=lambda r: r["date"] if "date" in r else r["timestamp"]
        )


def day_of(row: dict[str, str]) -> str:
    return (row.get("date") or row["timestamp"])[:10]


def past(events: list[int], known: int) -> list[int]:
    return [i for i in events if i + HOLD < known]


def test_a_replayed_cross_quotes_the_crosses_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = daily()
    close = [float(r["close"]) for r in rows]
    high = [float(r["high"]) for r in rows]
    known = next(i for i, r in enumerate(rows) if day_of(r) == "2026-01-12")
    crosses = [i for i in range(1, len(rows)) if close[i - 1] < LEVEL <= high[i]]
    cases = past(crosses, known)
    held = sum(close[i + HOLD] > LEVEL for i in cases)
    median = statistics.median((close[i + HOLD] / close[i] - 1) * 100 for i in cases)
    assert len(cases) >= 8  # enough for a figure (study.min_events)
    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    monkeypatch.setenv("BOT_PAPER__STATE_DIR", str(tmp_path / "state"))
    BarStore(tmp_path / "store").write(scripted_day())
    result = CliRunner().invoke(app, ["replay", "2026-01-12"])
    assert result.exit_code == 0, result.stdout + result.stderr
    said = f"History: intraday cross up: {len(cases)} past cases on BABA, {held} held above the "
    said += f"level 5 bars later, median {median:+.1f}% (CI "
    assert said in result.stdout, result.stdout


def test_signals_carry_their_base_rate_from_the_breakouts_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Breakouts are the strategy's own signals (the whole history's, from `bot signals`);
    the 2026-01-13 one quotes those whose fifth close came before it."""
    runner = CliRunner()
    every = runner.invoke(app, ["signals", "--format", "json", "--from", "2014-01-01"])
    assert every.exit_code == 0, every.stdout
    sigs = [json.loads(line) for line in every.stdout.splitlines() if line.strip()]
    rows = daily()
    index = {day_of(r): i for i, r in enumerate(rows)}
    close = [float(r["close"]) for r in rows]
    ups = [index[s["time"][:10]] for s in sigs
           if s["kind"] == "breakout" and s["level_value"] == LEVEL]  # fmt: skip
    at = index["2026-01-13"]
    cases = past(ups, at)
    held = sum(close[i + HOLD] > LEVEL for i in cases)
    median = statistics.median((close[i + HOLD] / close[i] - 1) * 100 for i in cases)
    (last,) = [s for s in sigs if s["time"].startswith("2026-01-13")]
    n = len(cases)
    assert last["base_rate"] == (
        f"confirmed breakout, 2 closes: too few events on BABA ({n} past cases, 8 needed)"
    )
    monkeypatch.setenv("BOT_STUDY__MIN_EVENTS", "2")
    few = runner.invoke(app, ["signals", "--format", "json", "--from", "2026-01-01"])
    (row,) = [json.loads(x) for x in few.stdout.splitlines() if x.startswith('{"symbol"')
              and "2026-01-13" in x]  # fmt: skip
    assert row["base_rate"].startswith(
        f"confirmed breakout, 2 closes: {n} past cases on BABA, {held} held above the level "
        f"5 bars later, median {median:+.1f}% (CI "
    ), row["base_rate"]


def test_a_paper_runs_confirmed_alert_quotes_the_same_history() -> None:
    """The paper run's `confirmed` alert (bot/live/alerting.py SignalHistory) for the
    2026-01-13 breakout quotes the breakouts before it: the count of the test above."""
    from bot import events as ev
    from bot.config_load import load_settings
    from bot.live.alerting import SignalHistory
    from bot.models import et_to_ns

    rows = daily()
    sigs = CliRunner().invoke(app, ["signals", "--format", "json", "--from", "2014-01-01"])
    ups = [json.loads(x) for x in sigs.stdout.splitlines() if x.strip()]
    index = {day_of(r): i for i, r in enumerate(rows)}
    n = len(past([index[s["time"][:10]] for s in ups if s["kind"] == "breakout"
                  and s["level_value"] == LEVEL], index["2026-01-13"]))  # fmt: skip
    from datetime import datetime

    from bot.models import ET

    ts = et_to_ns(datetime(2026, 1, 13, tzinfo=ET))
    event = ev.Signal(bar_time="2026-01-13T00:00:00-05:00", ts=ts, signal_kind="breakout",
                      details=(), reason="2 closes", strategy="level_breakout",
                      tag="resistance_163.43", label="breakout", symbol="BABA")  # fmt: skip
    said = SignalHistory(load_settings(None))(event)
    assert (
        said == f"confirmed breakout, 2 closes: too few events on BABA ({n} past cases, 8 needed)"
    )
    other = ev.Signal(bar_time="2026-01-13T00:00:00-05:00", ts=ts, signal_kind="breakout",
                      details=(), reason="", strategy="level_breakout", tag="peak_52w",
                      label="", symbol="BABA")  # fmt: skip
    assert SignalHistory(load_settings(None))(other) is None  # the 52-week peak moves: no level
