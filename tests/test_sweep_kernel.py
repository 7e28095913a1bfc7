"""`bot sweep` with the compiled kernel, with the engine, and with a mix of both.

The kernel is a faster way to the same numbers, so the sweep's outputs must not depend on
which one scored a combination: with the kernel, with `--engine`, and without numba at
all, every row of every combination is the same to the last bit, and the same set is
chosen in every window. A strategy without a compiled kernel (sma_cross here; any
user strategy whose registry entry names none) runs through the engine automatically,
and the summary, the report and results.jsonl say so.
"""

from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path

import pytest

from bot.sweep.run import Options, Outcome, run_sweep
from tests.conftest import DAILY_CSV, DEFAULT_TOML

if importlib.util.find_spec("numba") is None:  # pragma: no cover - the fast extra is missing
    pytest.skip("numba is not installed (the fast extra)", allow_module_level=True)

SWEEP = f"""
objective = "sharpe"
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2018-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2, 3]
"strategy.breakout_buffer_pct" = [0.0, 1.0]
"risk.atr_multiple" = [1.5, 3.0]
[walk_forward]
train_bars = 300
test_bars = 150
"""


def _sweep(tmp_path: Path, base_text: str, extra: str = "") -> Path:
    base = tmp_path / "base.toml"
    base.write_text(base_text, encoding="utf-8")
    path = tmp_path / "sweep.toml"
    path.write_text(f'base_config = "{base.as_posix()}"\n' + SWEEP + extra, encoding="utf-8")
    return path


def _stops_on() -> str:
    return DEFAULT_TOML.read_text("utf-8").replace("stop_loss = false", "stop_loss = true")


def _same(a: Outcome, b: Outcome) -> None:
    assert [r.index for r in a.results] == [r.index for r in b.results]
    assert [r.rows for r in a.results] == [r.rows for r in b.results]  # exactly
    assert [c.index for c in a.choices] == [c.index for c in b.choices]
    assert a.lines[1:] == b.lines[1:]  # the summary below "how it was scored"


def test_kernel_engine_and_no_numba_give_the_same_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sweep(tmp_path, _stops_on())
    kernel = run_sweep(path, Options(out=tmp_path / "kernel", workers=1))
    engine = run_sweep(path, Options(out=tmp_path / "engine", workers=1, engine=True))
    assert all(r.engine == "" for r in kernel.results)
    assert "all 12 by the compiled kernel" in kernel.lines[0]
    assert "12 by the engine (12 because the sweep was run with --engine)" in engine.lines[0]
    _same(kernel, engine)
    # Without the extra: numba cannot be found, the engine scores everything.
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a)
    )
    plain = run_sweep(path, Options(out=tmp_path / "plain", workers=1))
    assert "because numba is not installed" in plain.lines[0]
    _same(kernel, plain)
    # The sweep traded: the comparison above is about real trades.
    assert max(int(r.rows[0][10] or 0) for r in kernel.results) > 3


def test_a_strategy_the_kernel_lacks_runs_through_the_engine_and_says_so(tmp_path: Path) -> None:
    base = '[strategy]\nname = "sma_cross"\nfast = 10\nslow = 30\n[risk]\nstop_loss = true\n'
    # sma_cross has no breakout buffer: sweep its own window instead.
    text = _sweep(tmp_path, base).read_text("utf-8")
    text = text.replace('"strategy.confirm_closes" = [1, 2, 3]\n', "")
    text = text.replace(
        '"strategy.breakout_buffer_pct" = [0.0, 1.0]\n', '"strategy.fast" = [5, 10]\n'
    )
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    outcome = run_sweep(path, Options(out=out, workers=1))
    why = "strategy 'sma_cross' has no compiled kernel"
    assert f"4 by the engine (4 because {why})" in outcome.lines[0]
    assert html.escape(f"4 because {why}") in (out / "report.html").read_text("utf-8")
    lines = (out / "results.jsonl").read_text("utf-8").splitlines()[1:]
    assert [json.loads(line)["engine"] for line in lines] == [why] * 4
    # A resume reads how each was scored back.
    again = run_sweep(path, Options(out=out, workers=1, resume=True))
    assert f"4 by the engine (4 because {why})" in again.lines[0]
