"""Honest tuning: `--write-config` refuses a set that lost or collapsed unless `--force`,
writes one that held up, and an interrupted sweep ends with the signal's exit code.

The losing case is real BABA bars 2019-2021 (the walk-forward's final choice lost money
in sample); its in-sample loss is checked with `bot backtest` over the same window, a
different code path from the sweep's scoring. The winning case is a synthetic series
whose every breakout runs into the take-profit, so every set makes money in every window.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sweep.store import RESULTS
from tests.conftest import DAILY_CSV, DEFAULT_TOML, weekdays, write_csv
from tests.test_sweep_cli import SWEEP

LOSING = SWEEP  # real BABA bars 2019-2021: the final choice lost money in sample


def sweep(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, str, Path]:
    spec = tmp_path / "sweep.toml"
    spec.write_text(text, encoding="utf-8")
    config = tmp_path / "chosen.toml"
    args = ["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--write-config", str(config), *extra])
    return result.exit_code, result.stdout, result.stderr, config


def test_a_losing_choice_is_not_written(tmp_path: Path, restore_root_logging: None) -> None:
    code, out, err, config = sweep(tmp_path, LOSING)
    assert code == 1, out + err
    assert not config.exists()
    (line,) = err.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"refusing to write {config}: the chosen set (")
    assert line.endswith("pass --force to write it anyway")
    m = re.search(
        r"the chosen set \((.+?)\) does not hold up: final train window "
        r"(\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d) \(in sample\): total return (-[\d.]+)% < 0",
        line,
    )
    assert m, line
    chosen = dict(kv.split("=") for kv in m.group(1).split(", "))
    # The same set over the same window with `bot backtest`: it lost that much.
    base = DEFAULT_TOML.read_text(encoding="utf-8")
    for key, value in chosen.items():
        base = re.sub(rf"(?m)^{key} = \S+", f"{key} = {value}", base)
    cfg = tmp_path / "set.toml"
    cfg.write_text(base, encoding="utf-8")
    run_dir = tmp_path / "bt"
    args = ["backtest", "--config", str(cfg), "--from", m.group(2), "--to", m.group(3)]
    result = CliRunner().invoke(app, [*args, "--out", str(run_dir)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["total_return_pct"] < 0
    assert f"{metrics['total_return_pct']:.2f}" == m.group(4)
    # The terminal says the same before the refusal, in the summary.
    assert "final choice NOT recommended" in out


def test_force_writes_it_marked(tmp_path: Path, restore_root_logging: None) -> None:
    code, out, err, config = sweep(tmp_path, LOSING, "--force")
    assert code == 0, out + err
    assert "written with --force" in out
    assert "NOT RECOMMENDED (written with --force)" in config.read_text(encoding="utf-8")


def winning_files(tmp_path: Path) -> str:
    """Cycles of 20 bars: 10 closes at 95, a break through 100 (102, 103), a run up to 112
    (the 5% take-profit from an entry near 103 fills), back to 95. Every set trades every
    cycle and every trade wins."""
    cycle_closes = [95.0] * 10 + [102.0, 103.0, 106.0, 108.0, 110.0, 112.0] + [95.0] * 4
    days = weekdays(date(2016, 1, 4), 20 * 45)
    rows = []
    for i, d in enumerate(days):
        c = cycle_closes[i % 20]
        rows.append(f"{d.isoformat()},{c},{c + 1.0},{c - 1.0},{c},1000000")
    csv = write_csv(tmp_path / "UP_1d.csv", rows)
    base = DEFAULT_TOML.read_text(encoding="utf-8")
    for key, value in {
        "symbol": '"UP"',
        "levels": "[100.0]",
        "use_52w_peak": "false",
        "take_profit_pct": "5.0",
        "volume_multiple": "0.0",  # flat volume: the rule would hold every breakout back
        "path": f'"{csv.as_posix()}"',
    }.items():
        base, n = re.subn(rf"(?m)^{key} = \S+", f"{key} = {value}", base)
        assert n == 1, key
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    return f"""
base_config = "{(tmp_path / "base.toml").as_posix()}"
objective = "sharpe"
[data]
path = "{csv.as_posix()}"
[parameters]
"strategy.confirm_closes" = [1, 2]
"strategy.breakout_buffer_pct" = [0.5, 1.0]
[constraints]
min_trades = 1
[walk_forward]
train_bars = 300
test_bars = 150
"""


def test_a_set_that_held_up_is_written_without_force(
    tmp_path: Path, restore_root_logging: None
) -> None:
    code, out, err, config = sweep(tmp_path, winning_files(tmp_path))
    assert code == 0, out + err
    assert err.strip() == ""
    text = config.read_text(encoding="utf-8")
    assert "NOT RECOMMENDED" not in text
    assert "final choice: no loss in sample" in out


# A sweep big enough to be interrupted while it scores: 5 x 30 x 4 = 600 combinations.
BIG = f"""
objective = "sharpe"
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2019-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2, 3, 4, 5]
"strategy.breakout_buffer_pct" = {{start = 0.0, stop = 2.9, step = 0.1}}
"strategy.volume_multiple" = [0, 1, 1.5, 2]
[walk_forward]
train_bars = 250
test_bars = 125
"""


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_whole_group_ends_with_its_exit_code(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C in a terminal reaches the command and its pool workers (one process
    group); so does `kill -TERM -PGID`. The sweep saves what finished, says how to go on
    and exits with the signal's code, never 0."""
    spec, out = tmp_path / "sweep.toml", tmp_path / "out"
    spec.write_text(BIG, encoding="utf-8")
    cmd = [sys.executable, "-m", "bot", "sweep", str(spec), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    results = out / RESULTS
    deadline = time.monotonic() + 120  # a hang guard, not a timing assert
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text(encoding="utf-8").splitlines()) > 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    os.killpg(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "--resume" in last, stderr
    saved = results.read_text(encoding="utf-8").splitlines()[1:]
    assert 3 <= len(saved) < 600
    for line in saved:
        json.loads(line)  # every kept line is whole
    assert f"{len(saved)} of 600 combinations are saved" in last
