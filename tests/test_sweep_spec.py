"""The sweep file: parsing, ranges, the grid, and bad files refused before any work.

Each bad file must stop `bot sweep` with exit code 2 and one message naming the key,
and no output folder may be created (nothing was scored).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import ConfigError
from bot.sweep.params import expand_range, make_grid
from bot.sweep.prepare import prepare
from bot.sweep.run import Options, run_sweep
from bot.sweep.spec import load_sweep
from tests.conftest import DAILY_CSV

GOOD = f"""
objective = "sharpe"
[data]
path = "{DAILY_CSV.as_posix()}"
from = 2019-01-02
to = 2020-12-31
[parameters]
"strategy.confirm_closes" = [1, 2]
[walk_forward]
train_bars = 200
test_bars = 100
"""


def sweep_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(**replace: str) -> str:
    text = GOOD
    for old, new in replace.items():
        old = old.replace("__", ".")
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_good_file_parses(tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(tmp_path, GOOD))
    assert spec.names == ("strategy.confirm_closes",)
    assert spec.values == ((1, 2),)
    assert (spec.start, spec.end, spec.objective) == ("2019-01-02", "2020-12-31", "sharpe")
    wf = spec.walk_forward
    assert (wf.train_bars, wf.test_bars, wf.step_bars, wf.anchored) == (200, 100, 100, False)


def test_nested_tables_and_ranges(tmp_path: Path) -> None:
    text = GOOD.replace(
        '"strategy.confirm_closes" = [1, 2]',
        "risk.atr_multiple = {start = 0.5, stop = 2.0, step = 0.5}\n"
        "[parameters.strategy]\nbreakout_buffer_pct = {start = 0.1, stop = 0.3, step = 0.1}\n"
        "confirm_closes = [1.0, 3]",
    )
    spec = load_sweep(sweep_file(tmp_path, text))
    got = dict(zip(spec.names, spec.values, strict=True))
    assert got == {
        "risk.atr_multiple": (0.5, 1.0, 1.5, 2.0),  # stop included: it lands on the step
        "strategy.breakout_buffer_pct": (0.1, 0.2, 0.3),  # not 0.30000000000000004
        "strategy.confirm_closes": (1, 3),  # a count given as 1.0 is the whole number 1
    }
    assert all(type(v) is int for v in got["strategy.confirm_closes"])


def test_range_stop_not_on_step() -> None:
    assert expand_range({"start": 1, "stop": 10, "step": 4}, "x") == [1, 5, 9]
    assert expand_range({"start": 2, "stop": 2, "step": 1}, "x") == [2]


def test_grid_order_and_seeded_sample() -> None:
    grid = make_grid(["a.x", "a.y"], [[1, 2, 3], [10, 20]], None, 0)
    # last parameter fastest, as itertools.product
    assert [grid.combo(i) for i in grid.indices] == [
        (1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)
    ]  # fmt: skip
    a = make_grid(["a.x", "a.y"], [list(range(50)), list(range(40))], 25, 7)
    b = make_grid(["a.x", "a.y"], [list(range(50)), list(range(40))], 25, 7)
    c = make_grid(["a.x", "a.y"], [list(range(50)), list(range(40))], 25, 8)
    assert a.indices == b.indices and a.indices != c.indices
    assert len(set(a.indices)) == 25 and list(a.indices) == sorted(a.indices)
    assert make_grid(["a.x"], [[1, 2]], 10, 0).indices == (0, 1)  # more samples than grid


BAD = [
    (
        edit(**{'"strategy.confirm_closes"': '"strategy.confirm_close"'}),
        "unknown parameter strategy.confirm_close; did you mean strategy.confirm_closes?",
    ),
    (
        edit(**{'"strategy.confirm_closes"': '"risk.atr_multiplier"'}),
        "did you mean risk.atr_multiple?",
    ),
    (edit(objective="objectve"), "unknown key objectve; did you mean objective?"),
    (edit(**{'"sharpe"': '"sharp"'}), "objective: 'sharp' is not known; did you mean sharpe?"),
    (
        edit(**{"[1, 2]": "{start = 3, stop = 1, step = 1}"}),
        "parameters.strategy.confirm_closes: empty range: stop 1 is below start 3",
    ),
    (edit(**{"[1, 2]": "[]"}), "parameters.strategy.confirm_closes: empty list of values"),
    (
        edit(**{"[1, 2]": "{start = 1, stop = 3, step = 0}"}),
        "parameters.strategy.confirm_closes: step must be > 0",
    ),
    (edit(**{"[1, 2]": '[1, "two"]'}), "parameters.strategy.confirm_closes[1]: 'two' is not"),
    (edit(**{"[1, 2]": "[1, 1]"}), "value 1 is listed twice"),
    (
        edit(**{'"strategy.confirm_closes" = [1, 2]': '"strategy.name" = [1]'}),
        "strategy.name is not a numeric key",
    ),
    (
        edit(**{'"strategy.confirm_closes" = [1, 2]': '"risk.stop_loss" = [0, 1]'}),
        "risk.stop_loss is not a numeric key (it is bool)",
    ),
    (
        edit(**{DAILY_CSV.as_posix(): "data/no_such_file.csv"}),
        "data.path: file data/no_such_file.csv does not exist",
    ),
    (edit(train_bars="trainbars"), "walk_forward: unknown key trainbars; did you mean train_bars?"),
    (
        # 2019 and 2020 have 252 + 253 NYSE sessions
        edit(**{"train_bars = 200": "train_bars = 600"}),
        "train_bars (600) + a test window of at least 2 bars does not fit in the 505 bars",
    ),
    (
        edit(**{"to = 2020-12-31": "to = 2020-12-31\n[constraints]\nmax_drawdown_pct = -20"}),
        "constraints.max_drawdown_pct: give the deepest drawdown allowed as a percentage",
    ),
    (edit(**{"from = 2019-01-02": 'from = "someday"'}), "data: 'someday' is not a date"),
    (edit(**{"[parameters]": "[parameters]\n[paramaters]"}), "did you mean parameters?"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_sweep_files_are_refused_before_any_work(
    tmp_path: Path, text: str, message: str
) -> None:
    path = sweep_file(tmp_path, text)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as err:
        run_sweep(path, Options(out=out, workers=1))
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert not out.exists()


def test_value_out_of_the_config_range_gives_the_configs_message(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, edit(**{"[1, 2]": "[2, 0]"}))
    with pytest.raises(ConfigError) as err:
        prepare(path)
    text = str(err.value)
    assert "the combination strategy.confirm_closes = 0 is refused by the config" in text
    # load_settings' own message: the file, the field, the rule and the value
    assert "strategy.confirm_closes: Input should be greater than or equal to 1 (got 0)" in text


def test_a_count_with_a_fraction_is_refused_by_the_config(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, edit(**{"[1, 2]": "[1.5]"}))
    with pytest.raises(ConfigError, match="valid integer"):
        prepare(path)


def test_environment_override_of_a_swept_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_STRATEGY__CONFIRM_CLOSES", "3")
    with pytest.raises(ConfigError, match="BOT_STRATEGY__CONFIRM_CLOSES would override"):
        prepare(sweep_file(tmp_path, GOOD))


def test_cli_exit_code_2_and_one_message(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, BAD[0][0])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("config error: ")
    assert "did you mean strategy.confirm_closes?" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--heatmap", "confirm_closes"], "--heatmap takes two parameter names"),
        (["--heatmap", "confirm_closes,nope"], "--heatmap: nope is not a swept parameter"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--scheduler", "127.0.0.1:8786"], "--scheduler must be an address like tcp://"),
        (["--resume"], "--resume needs --out DIR"),
    ],
)
def test_cli_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    path = sweep_file(tmp_path, GOOD)
    out = ["--out", str(tmp_path / "out")] if "--resume" not in args else []
    result = CliRunner().invoke(app, ["sweep", str(path), *out, *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "out").exists()
