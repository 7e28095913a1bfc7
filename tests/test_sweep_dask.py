"""The same sweep on a Dask cluster (two worker processes on 127.0.0.1) and locally gives
identical results: every figure of every combination, and the same results.csv. Where
numba is installed both score with the compiled kernel (bot.kernel), and they equal a
local run of the engine too (`--engine`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sweep.run import Options, run_sweep
from tests.conftest import DAILY_CSV, DEFAULT_TOML

distributed = pytest.importorskip("distributed")

SWEEP = f"""
objective = "profit_factor"
samples = 10
seed = 4
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2018-01-02
to = 2021-12-31
[parameters]
"strategy.confirm_closes" = [1, 2, 3]
"strategy.volume_multiple" = [0.0, 1.5]
"risk.atr_multiple" = [1.5, 3.0]
[walk_forward]
train_bars = 300
test_bars = 150
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # None still takes :8787, which another process may hold
    ) as lc:
        yield str(lc.scheduler_address)


@pytest.mark.slow  # starts a two-process Dask cluster
def test_dask_and_local_give_identical_results(tmp_path: Path, cluster: str) -> None:
    path = tmp_path / "sweep.toml"
    # Stops on, so the swept ATR multiple matters.
    base = tmp_path / "base.toml"
    default = DEFAULT_TOML.read_text("utf-8")
    base.write_text(default.replace("stop_loss = false", "stop_loss = true"), encoding="utf-8")
    path.write_text(f'base_config = "{base.as_posix()}"\n' + SWEEP, encoding="utf-8")
    local = run_sweep(path, Options(out=tmp_path / "local", workers=1))
    remote = run_sweep(path, Options(out=tmp_path / "dask", scheduler=cluster))
    assert "Dask cluster at tcp://127.0.0.1" in remote.lines[0]
    assert len(local.results) == 10
    assert [r.index for r in remote.results] == [r.index for r in local.results]
    assert [r.rows for r in remote.results] == [r.rows for r in local.results]
    assert [c.index for c in remote.choices] == [c.index for c in local.choices]
    csv_local = (tmp_path / "local" / "results.csv").read_bytes()
    assert (tmp_path / "dask" / "results.csv").read_bytes() == csv_local
    # The sweep is not trivial: sets differ, and some trade with stops.
    assert len({str(r.rows[0]) for r in local.results}) > 5
    if importlib.util.find_spec("numba") is not None:
        assert all(r.engine == "" for r in remote.results), "the workers scored with the kernel"
        assert "by the compiled kernel" in remote.lines[0]
        engine = run_sweep(path, Options(out=tmp_path / "engine", workers=1, engine=True))
        assert [r.rows for r in remote.results] == [r.rows for r in engine.results]
