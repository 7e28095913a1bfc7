"""Nothing outside strategies/ names a strategy: the engine, the commands, the charts and
the sweeps read signals' intent, tag and details and a strategy's description, status and
plot series, and find strategies through the registry (strategies/__init__.py).

The files that name one (its registry name or a class of it) are listed here: the
registry, each strategy's own modules, and besides them only documentation, the shipped
config (which chooses one), tests and the benchmark of the level rules. The README's
example of a new strategy is run through the registry: one file plus one registry line.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import load_settings
from bot.data.load import load_csv
from bot.engine.backtest import run_backtest
from strategies import REGISTRY, Registered
from tests.conftest import DAILY_CSV, DEFAULT_TOML

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("bot", "strategies", "scripts", "config", "examples", "tests")
TOP_FILES = ("README.md", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".toml", ".md", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".json"}

# The code that names a strategy: the registry and each strategy's modules.
CODE = {
    "strategies/__init__.py",
    "strategies/level_breakout.py",
    "strategies/level_config.py",  # its config model: `name` is the strategy's
    "strategies/level_kernel.py",  # its compiled signal kernel (bot/kernel)
    "strategies/level_plot.py",  # imports its config type
    "strategies/level_state.py",  # says which strategy updates the level states
    "strategies/sma_cross.py",
}
# Besides tests/: documentation, the shipped config, the plain-loop reference of the
# level rules that `make bench` times the engine against.
OTHERS = {"README.md", "config/default.toml", "scripts/plainloop.py"}


def strategy_names() -> set[str]:
    names = set(REGISTRY)
    for entry in REGISTRY.values():
        names |= {getattr(entry.build, "__name__", ""), entry.config.__name__}
    return names - {""}


def files() -> list[str]:
    out = [name for name in TOP_FILES if (ROOT / name).is_file()]
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            if path.is_file() and path.suffix in SUFFIXES:
                out.append(path.relative_to(ROOT).as_posix())
    return out


def naming() -> set[str]:
    pattern = re.compile("|".join(sorted(map(re.escape, strategy_names()))))
    return {f for f in files() if pattern.search((ROOT / f).read_text(encoding="utf-8"))}


def test_the_registry_knows_each_strategy_by_its_own_name() -> None:
    assert {"level_breakout", "sma_cross"} <= set(REGISTRY)
    for name, entry in REGISTRY.items():
        assert entry.config.model_validate({}).name == name
        assert entry.build(entry.config.model_validate({})).name == name


def test_only_strategies_name_a_strategy() -> None:
    found = naming()
    assert "strategies/sma_cross.py" in found  # the scan works
    outside = sorted(f for f in found if not f.startswith(("tests/", "strategies/")))
    assert [f for f in outside if f not in OTHERS] == [], "these files name a strategy"
    assert sorted(f for f in found if f.startswith("strategies/")) == sorted(CODE)
    assert not [f for f in found if f.startswith("bot/")]


# ---------------------------------------------------------------- the README's example


def readme_example(folder: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The module of README's "Adding a strategy", imported from a file of its own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Adding a strategy\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    path = folder / "readme_streak.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readme_streak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "readme_streak", module)  # as an import would
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("restore_root_logging")
def test_the_readme_example_is_one_file_and_one_registry_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = readme_example(tmp_path, monkeypatch)
    monkeypatch.setitem(REGISTRY, "streak", Registered(module.StreakConfig, module.Streak))
    base = DEFAULT_TOML.read_text(encoding="utf-8")
    head, rest = base.split("[strategy]\n", 1)
    config = tmp_path / "streak.toml"
    table = '[strategy]\nname = "streak"\nup = 4\ndown = 2\n\n'
    config.write_text(head + table + rest[rest.index("[data]") :], encoding="utf-8")
    assert load_settings(config).strategy.up == 4  # type: ignore[attr-defined]

    signals = CliRunner().invoke(app, ["signals", "--config", str(config), "--from", "2025-09-01"])
    assert signals.exit_code == 0, signals.output
    assert "long after 4 higher closes in a row" in signals.stdout
    assert "streak_up" in signals.stdout and "closes in a row" in signals.stdout

    out = tmp_path / "run"
    args = ["backtest", "--config", str(config), "--from", "2025-01-02", "--out", str(out)]
    backtest = CliRunner().invoke(app, args)
    assert backtest.exit_code == 0, backtest.output
    assert (out / "chart.html").is_file()
    with (out / "trades.csv").open(encoding="utf-8") as fh:
        trades = list(csv.DictReader(fh))
    assert trades and {t["level"] for t in trades} == {"streak"}
    settings = load_settings(config)
    bars = load_csv(DAILY_CSV).bars
    ids = [i.client_order_id for i in run_backtest(settings, bars).record.intents]
    assert ids and all(i.startswith("stk-BABA-streak-") for i in ids)
