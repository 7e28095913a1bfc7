"""`bot sweep` end to end: figures equal `bot backtest`, the written config, the report.

The sweep's row for a set is compared with the metrics.json that `bot backtest
--config <written config> --from --to` writes: the two are produced by different
code paths (the sweep's scoring and the backtest command), so equality is a check.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import DEFAULT_CONFIG, load_settings
from bot.data.load import load_csv
from bot.engine.backtest import run_backtest
from bot.report.runfolder import compute_metrics
from bot.sweep.metrics import METRIC_KEYS
from bot.sweep.run import Options, run_sweep, write_chosen_config
from tests.conftest import DAILY_CSV, DEFAULT_TOML

SWEEP = f"""
objective = "sharpe"
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2019-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2]
"strategy.breakout_buffer_pct" = {{start = 0.5, stop = 1.5, step = 1.0}}
"strategy.volume_multiple" = [0.0, 1.5]
[constraints]
min_trades = 1
[walk_forward]
train_bars = 250
test_bars = 125
"""
FROM, TO = "2019-01-02", "2021-12-31"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def parse(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def assert_same(row: dict[str, str], prefix: str, metrics: dict[str, Any]) -> None:
    compared = 0
    for key in METRIC_KEYS:
        if key in metrics:
            mine, theirs = parse(row[f"{prefix}_{key}"]), metrics[key]
            assert mine == (None if theirs is None else float(theirs)), key
            compared += 1
    assert compared == len(METRIC_KEYS) - 1  # all but return_over_max_drawdown


@pytest.fixture
def swept(tmp_path: Path, restore_root_logging: None) -> dict[str, Path]:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    out, config = tmp_path / "out", tmp_path / "chosen.toml"
    args = ["sweep", str(path), "--out", str(out), "--workers", "2", "--write-config", str(config)]
    # The chosen set of this small range lost money (tests/test_sweep_honest.py): --force.
    args += ["--heatmap", "confirm_closes,volume_multiple", "--force"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + result.stderr
    assert "Walk-forward" in result.output and "final choice" in result.output
    assert "written with --force" in result.output
    assert "NOT RECOMMENDED (written with --force)" in config.read_text(encoding="utf-8")
    return {"sweep": path, "out": out, "config": config}


def backtest(config: Path, out: Path) -> dict[str, Any]:
    args = ["backtest", "--config", str(config), "--from", FROM, "--to", TO, "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + result.stderr
    metrics: dict[str, Any] = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return metrics


def test_row_equals_bot_backtest_with_the_written_config(
    swept: dict[str, Path], tmp_path: Path
) -> None:
    table = rows(swept["out"] / "results.csv")
    assert len(table) == 8
    [chosen] = [r for r in table if r["final_choice"] == "True"]
    metrics = backtest(swept["config"], tmp_path / "bt")
    assert int(chosen["full_trades"]) > 0
    assert_same(chosen, "full", metrics)
    assert metrics["start"].startswith(FROM) and metrics["end"].startswith(TO)


def test_another_set_too(swept: dict[str, Path], tmp_path: Path) -> None:
    outcome = run_sweep(swept["sweep"], Options(out=swept["out"], resume=True, workers=1))
    table = rows(swept["out"] / "results.csv")
    other = next(r for r in table if r["final_choice"] == "False" and int(r["full_trades"]) > 0)
    path = write_chosen_config(tmp_path / "other.toml", outcome, int(other["index"]))
    assert "(not the sweep's choice)" in path.read_text(encoding="utf-8")
    assert_same(other, "full", backtest(path, tmp_path / "bt2"))


def test_written_config_is_complete_and_reproduces_the_figures(swept: dict[str, Path]) -> None:
    text = swept["config"].read_text(encoding="utf-8")
    written, default = tomllib.loads(text), tomllib.loads(DEFAULT_CONFIG.read_text("utf-8"))
    # The watchlist is the user's list, not a setting: written as the base config has it
    # (the tests' base config has none), every setting table as the shipped file has it.
    base = tomllib.loads(DEFAULT_TOML.read_text("utf-8"))
    assert written.pop("watchlist", {}) == base.get("watchlist", {}) == {}
    default.pop("watchlist")
    assert written.keys() == default.keys()
    for table, body in default.items():
        if isinstance(body, dict):
            assert written[table].keys() == body.keys(), table
    header = [line for line in text.splitlines() if line.startswith("#")][:8]
    joined = "\n".join(header)
    assert str(swept["sweep"]) in joined and "Objective sharpe" in joined
    assert "Chosen, on the final train window" in joined and "sharpe" in joined
    [chosen] = [r for r in rows(swept["out"] / "results.csv") if r["final_choice"] == "True"]
    settings = load_settings(swept["config"])
    for name in ("confirm_closes", "breakout_buffer_pct", "volume_multiple"):
        assert getattr(settings.strategy, name) == float(chosen[f"strategy.{name}"])
    series = load_csv(DAILY_CSV).bars
    lo, hi = series.index_of(FROM), series.index_of(f"{TO}T23:59", side="right")
    assert_same(chosen, "full", compute_metrics(run_backtest(settings, series, lo, hi)))
    # The final window: the last 250 bars of the range, where the choice was made.
    assert_same(chosen, "final", compute_metrics(run_backtest(settings, series, hi - 250, hi)))
    assert float(chosen["final_objective"]) == max(
        float(r["final_objective"])
        for r in rows(swept["out"] / "results.csv")
        if r["final_objective"] and int(r["final_trades"]) >= 1
    )


def test_report_is_self_contained(swept: dict[str, Path]) -> None:
    page = (swept["out"] / "report.html").read_text(encoding="utf-8")
    assert len(page) > 3_000_000  # plotly.js is embedded (it is about 4 MB)
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing loaded from the network
    assert page.count("Plotly.newPlot(") == 2
    assert "Walk-forward" in page and "collapse" in page
    assert "strategy.confirm_closes" in page and "strategy.volume_multiple" in page


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_paper_and_config_accept_the_written_config(swept: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "--config", str(swept["config"])])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.output.split("\n", 1)[1])
    assert shown["data"]["path"] == DAILY_CSV.as_posix()
    assert shown["paper"]["replay_from"] == "2025-09-01"
    # A short offline replay against the in-process emulator (127.0.0.1), in its own
    # process and folder: `bot paper` sets up logging and writes logs/ and state/.
    args = ["paper", "--config", str(swept["config"]), "--fresh", "--from", "2026-02-02"]
    args += ["--state-dir", str(tmp_path / "state")]
    run = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bar(s) traded" in run.stdout


def test_no_set_meets_the_constraints(tmp_path: Path, restore_root_logging: None) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.replace("min_trades = 1", "min_trades = 500"), encoding="utf-8")
    config = tmp_path / "chosen.toml"
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--write-config", str(config)]
    result = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 1
    assert "no parameter set met the constraints on the final window" in result.stderr
    assert not config.exists()
    assert (tmp_path / "out" / "report.html").exists()  # the figures are still reported
    assert all(r["chosen_windows"] == "0" for r in rows(tmp_path / "out" / "results.csv"))
