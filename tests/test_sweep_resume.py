"""Interrupted sweeps keep what they finished, and `--resume` ends where a full run ends.

Interruptions: the `limit` hook (stops exactly as Ctrl-C does: KeyboardInterrupt from
the result callback), in-process and with a worker pool; a results file cut in the
middle of a line (a killed process); and a real SIGINT sent to `bot sweep`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config_load import ConfigError
from bot.sweep.run import Options, SweepInterrupted, run_sweep
from bot.sweep.store import RESULTS
from tests.conftest import DAILY_CSV

SWEEP = f"""
objective = "return_over_max_drawdown"
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2019-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2, 3]
"strategy.breakout_buffer_pct" = [0.5, 1.5]
"risk.percent_equity" = [25.0, 50.0]
[walk_forward]
train_bars = 250
test_bars = 125
anchored = true
"""
TOTAL = 12


def write(tmp_path: Path, text: str = SWEEP) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def lines(out: Path) -> list[str]:
    return (out / RESULTS).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """results.csv of an uninterrupted run."""
    tmp = tmp_path_factory.mktemp("ref")
    run_sweep(write(tmp), Options(out=tmp / "out", workers=1))
    assert len(lines(tmp / "out")) == 1 + TOTAL
    return (tmp / "out" / "results.csv").read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path: Path, reference: bytes, workers: int
) -> None:
    path, out = write(tmp_path), tmp_path / "out"
    with pytest.raises(SweepInterrupted, match=r"--out .* --resume"):
        run_sweep(path, Options(out=out, workers=workers, limit=3))
    saved = len(lines(out)) - 1
    # A pool also keeps the chunks that were running when it was stopped.
    assert 3 <= saved < TOTAL if workers > 1 else saved == 3
    assert not (out / "results.csv").exists()
    outcome = run_sweep(path, Options(out=out, workers=workers, resume=True))
    assert outcome.lines[0].startswith(f"{TOTAL - saved} combination(s) scored")
    got = lines(out)
    assert len(got) == 1 + TOTAL  # nothing scored twice
    assert sorted(json.loads(x)["i"] for x in got[1:]) == list(range(TOTAL))
    assert (out / "results.csv").read_bytes() == reference


def test_torn_last_line_is_dropped_and_rescored(tmp_path: Path, reference: bytes) -> None:
    path, out = write(tmp_path), tmp_path / "out"
    run_sweep(path, Options(out=out, workers=1))
    text = (out / RESULTS).read_text(encoding="utf-8")
    keep = text.splitlines(keepends=True)[:6]  # header + 5 combinations
    torn = text.splitlines(keepends=True)[6][:40]  # a write cut short
    (out / RESULTS).write_text("".join(keep) + torn, encoding="utf-8")
    (out / "results.csv").unlink()
    outcome = run_sweep(path, Options(out=out, workers=1, resume=True))
    assert outcome.lines[0].startswith(f"{TOTAL - 5} combination(s) scored")
    assert len(lines(out)) == 1 + TOTAL
    assert (out / "results.csv").read_bytes() == reference


def test_existing_results_need_resume_and_the_same_sweep(tmp_path: Path) -> None:
    path, out = write(tmp_path), tmp_path / "out"
    with pytest.raises(SweepInterrupted):
        run_sweep(path, Options(out=out, workers=1, limit=2))
    with pytest.raises(ConfigError, match="already holds sweep results; pass --resume"):
        run_sweep(path, Options(out=out, workers=1))
    other = write(tmp_path, SWEEP.replace("[25.0, 50.0]", "[25.0, 40.0]"))
    with pytest.raises(ConfigError, match="holds results of a different sweep"):
        run_sweep(other, Options(out=out, workers=1, resume=True))
    assert len(lines(out)) == 1 + 2  # untouched by the refused runs


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_ctrl_c_keeps_finished_results(tmp_path: Path) -> None:
    """A real SIGINT to `bot sweep` with a worker pool: exit 130, a resume hint, the
    finished combinations kept; --resume scores only the rest."""
    big = SWEEP.replace("[1, 2, 3]", "[1, 2, 3, 4, 5]").replace(
        "[0.5, 1.5]",
        '{start = 0.0, stop = 2.9, step = 0.1}\n"strategy.volume_multiple" = [0, 1, 1.5, 2]',
    )  # 5 x 30 x 4 x 2 = 1,200 combinations: a few seconds of work
    path, out = write(tmp_path, big), tmp_path / "out"
    cmd = [sys.executable, "-m", "bot", "sweep", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (out / RESULTS).exists() and len(lines(out)) > 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted:" in stderr and "--resume" in stderr
    saved = len(lines(out)) - 1
    assert 3 <= saved < 1200
    for line in lines(out)[1:]:
        json.loads(line)  # every kept line is whole
    outcome = run_sweep(path, Options(out=out, workers=2, resume=True))
    assert outcome.lines[0].startswith(f"{1200 - saved} combination(s) scored")
    assert len(outcome.results) == 1200 and len(lines(out)) == 1201
