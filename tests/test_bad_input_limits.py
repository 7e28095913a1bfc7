"""Bad input at the edges: dates pandas cannot hold, absurd prices and volumes, configs
with no settings, numbers without an upper bound, booleans given for numbers.

None of them may end in a traceback: a bad bar is rejected and reported (the good rows
are kept), a bad config is a `ConfigError` naming the file and the field. Row numbers
are file lines with the header as line 1. Expected values are written out by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from annotated_types import Le, Lt
from pydantic import BaseModel

from bot.config_load import ConfigError, load_settings
from bot.data.checks import validate_columns
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.models import DataError
from bot.settings import Settings
from strategies import REGISTRY, config_model
from tests.conftest import DEFAULT_TOML, daily_ts, write_csv

GOOD = [
    "2024-01-02,10,11,9,10,100",
    "2024-01-03,10,11,9,10.5,100",
    "2024-01-04,10,11,9,10.2,100",
    "2024-01-05,10,11,9,10.1,100",
]


def days(res: Any) -> list[date]:
    return [t.date() for t in res.bars.to_frame().index]


def bot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=dict(os.environ),  # BOT_*/ALPACA_* already removed (conftest)
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---------------------------------------------------------------- dates out of range


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("0019-01-02", "before 1800-01-01"),  # a typo for 2019: before pandas' 1677 too
        ("1677-01-01", "before 1800-01-01"),
        ("1799-12-31", "before 1800-01-01"),
        ("2300-01-02", "in the future"),  # after pandas' nanosecond limit (2262)
        ("9999-12-31", "in the future"),
        ("2262-04-12", "in the future"),
    ],
)
def test_date_outside_the_bar_range_is_rejected_and_the_rest_kept(tmp_path, stamp, why):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], f"{stamp},10,11,9,10,100", *GOOD[1:]])
    res = load_csv(path)
    assert [(r.row, r.field, r.value) for r in res.rejected] == [(3, "timestamp", stamp)]
    assert why in res.rejected[0].reason
    assert f"row 3: timestamp={stamp}: " in str(res.rejected[0]) and str(path) in str(
        res.rejected[0]
    )
    assert days(res) == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)]
    assert res.notes == []  # the rejected row is not reported as out of order as well


def test_times_with_offsets_outside_the_range_are_rejected(tmp_path):
    rows = [
        "2024-01-02T10:00:00-05:00,10,11,9,10,100",
        "0019-01-02T10:00:00-05:00,10,11,9,10,100",
        "2024-01-02T10:01:00-05:00,10,11,9,10,100",
        "2300-01-02T10:00:00-05:00,10,11,9,10,100",
    ]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    assert [(r.row, r.value) for r in res.rejected] == [
        (3, "0019-01-02T10:00:00-05:00"),
        (5, "2300-01-02T10:00:00-05:00"),
    ]
    assert res.bars.to_frame().index.strftime("%H:%M").tolist() == ["10:00", "10:01"]


def test_only_out_of_range_dates_give_no_bars_and_every_row_reported(tmp_path):
    res = load_csv(
        write_csv(tmp_path / "bars.csv", ["0019-01-02,10,11,9,10,100", "2300-01-02,10,11,9,10,100"])
    )
    assert len(res.bars) == 0
    assert [(r.row, r.field) for r in res.rejected] == [(2, "timestamp"), (3, "timestamp")]


def test_out_of_range_date_with_a_bad_price_is_one_rejection(tmp_path):
    res = load_csv(write_csv(tmp_path / "bars.csv", [GOOD[0], "0019-01-02,10,11,9,-5,100"]))
    assert [(r.row, r.field) for r in res.rejected] == [(3, "timestamp")]
    assert days(res) == [date(2024, 1, 2)]


def test_offsets_that_change_with_daylight_saving_are_read(tmp_path):
    # -05:00 in winter, -04:00 in summer: pandas refuses such a column unless told UTC
    rows = ["2024-01-02T10:00:00-05:00,10,11,9,10,100", "2024-07-02T10:00:00-04:00,10,11,9,10,100"]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    assert res.rejected == []
    index = res.bars.to_frame().index
    assert [t.isoformat() for t in index] == [
        "2024-01-02T10:00:00-05:00",
        "2024-07-02T10:00:00-04:00",
    ]


def test_times_with_and_without_offsets_mixed_is_a_data_error(tmp_path):
    rows = ["2024-01-02T10:00:00,10,11,9,10,100", "2024-07-02T10:00:00-04:00,10,11,9,10,100"]
    path = write_csv(tmp_path / "bars.csv", rows)
    with pytest.raises(DataError) as exc:
        load_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "timestamp" in msg and "row 3" in msg and "offset" in msg


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_reports_an_out_of_range_date_without_a_traceback(tmp_path):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], "0019-01-02,10,11,9,10,100", *GOOD[1:]])
    proc = bot("signals", "--config", str(DEFAULT_TOML), "--data", str(path), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "Read 4 1d bars" in out and "1 row(s) rejected" in out
    assert "row 3: timestamp=0019-01-02: before 1800-01-01" in out


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_plain_invocation_on_a_far_future_date(tmp_path):
    path = write_csv(tmp_path / "bars.csv", [*GOOD, "2300-01-02,10,11,9,10,100"])
    proc = bot("signals", "--data", str(path), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "row 6: timestamp=2300-01-02: in the future" in out


# ---------------------------------------------------------------- implausible values


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        ("2024-01-04,1e308,1e308,9,10,100", "open", "implausible price"),
        ("2024-01-04,10,1e308,9,10,100", "high", "implausible price"),
        ("2024-01-04,10,20000000,9,10,100", "high", "implausible price"),
        ("2024-01-04,1e308,1e308,1e308,1e308,100", "open", "implausible price"),
        ("2024-01-04,1e7,1.5e7,1e7,1e7,100", "high", "implausible price"),
        ("2024-01-04,20000000,20000000,20000000,20000000,100", "open", "implausible price"),
        ("2024-01-04,10,11,9,10,1e308", "volume", "implausible volume"),
        ("2024-01-04,10,11,9,10,20000000000000", "volume", "implausible volume"),
        ("2024-01-04,0.00005,0.00005,0.00005,0.00005,100", "open", "implausible price"),
        ("2024-01-04,10,11,1e-300,10,100", "low", "implausible price"),
    ],
)
def test_implausible_value_is_rejected(tmp_path, row, field, why):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], GOOD[1], row, GOOD[3]])
    res = load_csv(path)
    assert [(r.row, r.field) for r in res.rejected] == [(4, field)]
    assert why in res.rejected[0].reason
    assert days(res) == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5)]


def test_values_at_the_bounds_are_accepted(tmp_path):
    rows = [
        "2024-01-02,10000000,10000000,10000000,10000000,100",  # $10,000,000 a share
        "2024-01-03,0.0001,0.0001,0.0001,0.0001,100",  # the smallest sub-penny tick
        "2024-01-04,10,11,9,10,10000000000000",  # 1e13 shares
    ]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    assert res.rejected == []
    assert res.bars.high.tolist() == [1e7, 1e-4, 11.0]
    assert res.bars.volume.tolist() == [100.0, 100.0, 1e13]


def test_reason_names_the_bound(tmp_path):
    rows = [GOOD[0], "2024-01-03,10,1e308,9,10,100", "2024-01-04,10,11,9,10,1e16"]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    assert [str(r).split(": ", 1)[1] for r in res.rejected] == [
        "row 3: high=1e+308: implausible price (above 10,000,000 USD per share)",
        "row 4: volume=1e+16: implausible volume (above 10,000,000,000,000 shares in one bar)",
    ]


def test_feed_bars_with_implausible_values_are_rejected():
    # bars as they come from a broker feed, built by hand (not from a file)
    d = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)]
    series = BarSeries(
        ts=np.array([daily_ts(x) for x in d], dtype="int64"),
        open=np.array([10.0, 10.0, 10.0, 10.0]),
        high=np.array([11.0, 1e308, 11.0, 11.0]),
        low=np.array([9.0, 9.0, 9.0, 9.0]),
        close=np.array([10.0, 10.0, 10.0, 10.0]),
        volume=np.array([100.0, 100.0, 1e308, 100.0]),
        session=np.array([19724, 19725, 19726, 19727], dtype="int64"),
        source="alpaca BABA",
    )
    kept, rejected = validate_columns(series)
    assert [(r.field, r.reason.split(" (")[0]) for r in rejected] == [
        ("high", "implausible price"),
        ("volume", "implausible volume"),
    ]
    assert "2024-01-03" in rejected[0].value and "2024-01-04" in rejected[1].value
    assert kept.ts.tolist() == [daily_ts(d[0]), daily_ts(d[3])]


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_rejects_an_implausible_bar_without_a_traceback(tmp_path):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], "2024-01-03,10,1e308,9,10,100", *GOOD[2:]])
    proc = bot("signals", "--config", str(DEFAULT_TOML), "--data", str(path), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "row 3: high=1e+308: implausible price" in out


# ---------------------------------------------------------------- config: no settings


def write_toml(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    return str(exc.value)


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(
    "text",
    ["# only a comment\n", "# one\n\n   # two\n# [strategy]\n# confirm_closes = 3\n", "#"],
)
def test_comment_only_config_is_refused(tmp_path, text):
    path = write_toml(tmp_path, text)
    assert config_error(path) == (
        f"config file {path} has no settings (only comments); start from config/default.toml"
    )


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_comment_only_config_exits_2(tmp_path):
    path = write_toml(tmp_path, "# symbol = 'BABA'\n")
    proc = bot("config", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert str(path) in proc.stderr and "no settings (only comments)" in proc.stderr


# ---------------------------------------------------------------- config: upper bounds


# The strategy whose [strategy] table has each key (every registered strategy's keys are
# checked: the table is validated by the model its `name` picks).
STRATEGY_OF = {
    key: name for name, entry in reversed(REGISTRY.items()) for key in entry.config.model_fields
}


def section_fields() -> list[tuple[str, str, Any]]:
    """(section, key, FieldInfo) of every setting in a table of the config."""
    out = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if section == "strategy":
            fields = {k: f for e in REGISTRY.values() for k, f in e.config.model_fields.items()}
            out += [(section, key, sub) for key, sub in fields.items()]
        elif isinstance(model, type) and issubclass(model, BaseModel):
            out += [(section, key, sub) for key, sub in model.model_fields.items()]
    return out


def table(section: str, key: str) -> str:
    """The head of the table that holds `key` (naming the strategy it belongs to)."""
    if section == "strategy":
        return f'[strategy]\nname = "{STRATEGY_OF[key]}"\n'
    return f"[{section}]\n"


NUMBER_KEYS = [(s, k) for s, k, f in section_fields() if f.annotation in (int, float)]
BOOL_KEYS = [(s, k) for s, k, f in section_fields() if f.annotation is bool]


def test_the_field_lists_are_complete():
    # a guard on the walker above: these are known numeric and boolean settings
    assert {("paper", "speed"), ("paper", "stale_tolerance_s"), ("broker", "initial_cash")} <= set(
        NUMBER_KEYS
    )
    assert {("strategy", "confirm_closes"), ("risk", "fixed_shares")} <= set(NUMBER_KEYS)
    assert {("risk", "stop_loss"), ("alpaca", "allow_live"), ("strategy", "rsi_filter")} <= set(
        BOOL_KEYS
    )
    assert len(NUMBER_KEYS) >= 39 and len(BOOL_KEYS) >= 11  # as of this writing


@pytest.mark.parametrize(("section", "key"), NUMBER_KEYS)
def test_every_number_has_an_upper_bound(section, key):
    field = dict(((s, k), f) for s, k, f in section_fields())[(section, key)]
    assert any(isinstance(m, Le | Lt) for m in field.metadata), f"{section}.{key} has no bound"


def test_every_level_has_an_upper_bound():
    field = config_model("level_breakout").model_fields["levels"]
    (item,) = typing.get_args(field.annotation)
    assert any(isinstance(m, Le | Lt) for m in typing.get_args(item)[1].metadata)


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(("section", "key"), NUMBER_KEYS)
@pytest.mark.parametrize("value", ["inf", "1e300"])
def test_infinite_or_huge_number_is_refused_for_every_key(tmp_path, section, key, value):
    path = write_toml(tmp_path, f"{table(section, key)}{key} = {value}\n")
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if f": {section}.{key}: " in ln)
    assert str(path) in line


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(
    ("text", "field", "bound"),
    [
        ("[paper]\nstale_tolerance_s = 86401\n", "paper.stale_tolerance_s", "86400"),
        ("[paper]\nspeed = 1000001.0\n", "paper.speed", "1000000"),
        ("[paper]\nlog_max_bytes = 1000000001\n", "paper.log_max_bytes", "1000000000"),
        ("[broker]\ninitial_cash = 1.5e12\n", "broker.initial_cash", "1000000000000"),
        ("[emulator]\ninitial_cash = 1.5e12\n", "emulator.initial_cash", "1000000000000"),
        ("[risk]\nfixed_notional = 1.5e12\n", "risk.fixed_notional", "1000000000000"),
        ("[risk]\nfixed_shares = 1000001\n", "risk.fixed_shares", "1000000"),
        ("[strategy]\nlevels = [163.43, 2e7]\n", "strategy.levels.1", "10000000"),
    ],
)
def test_value_above_its_bound_is_refused(tmp_path, text, field, bound):
    msg = config_error(write_toml(tmp_path, text))
    line = next(ln for ln in msg.splitlines() if f": {field}: " in ln)
    assert f"less than or equal to {bound}" in line


@pytest.mark.usefixtures("in_tmp_dir")
def test_values_at_their_bounds_are_accepted(tmp_path):
    text = (
        "[paper]\nstale_tolerance_s = 86400\nspeed = 1e6\nlog_max_bytes = 1000000000\n"
        "[broker]\ninitial_cash = 1e12\n[emulator]\ninitial_cash = 1e12\n"
        "[risk]\nfixed_shares = 1000000\nfixed_notional = 1e12\n"
        "[strategy]\nlevels = [10000000.0]\n"
    )
    s = load_settings(write_toml(tmp_path, text))
    assert (s.paper.stale_tolerance_s, s.paper.speed, s.paper.log_max_bytes) == (
        86400,
        1e6,
        1_000_000_000,
    )
    assert (s.broker.initial_cash, s.emulator.initial_cash) == (1e12, 1e12)
    assert (s.risk.fixed_shares, s.risk.fixed_notional, s.strategy.levels) == (
        1_000_000,
        1e12,
        [1e7],
    )


@pytest.mark.usefixtures("in_tmp_dir")
def test_too_many_levels_are_refused(tmp_path):
    levels = ", ".join(str(100 + i) for i in range(101))
    msg = config_error(write_toml(tmp_path, f"[strategy]\nlevels = [{levels}]\n"))
    assert "strategy.levels: " in msg and "at most 100" in msg


# ---------------------------------------------------------------- config: booleans vs numbers


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(("section", "key"), NUMBER_KEYS)
@pytest.mark.parametrize("value", ["true", "false"])
def test_boolean_for_a_number_is_refused_for_every_key(tmp_path, section, key, value):
    path = write_toml(tmp_path, f"{table(section, key)}{key} = {value}\n")
    msg = config_error(path)
    lines = [ln for ln in msg.splitlines() if f": {section}.{key}: " in ln]
    assert len(lines) == 1  # said once, even where `false` (0) also breaks a lower bound
    assert str(path) in lines[0] and "Input should be a number, not a boolean" in lines[0]
    assert f"(got {value.title()})" in lines[0]


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(("section", "key"), BOOL_KEYS)
@pytest.mark.parametrize("value", ["1", "0", "1.0"])
def test_number_for_a_boolean_is_refused_for_every_key(tmp_path, section, key, value):
    path = write_toml(tmp_path, f"{table(section, key)}{key} = {value}\n")
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if f": {section}.{key}: " in ln)
    assert str(path) in line and "Input should be a boolean (true or false), not a number" in line


@pytest.mark.usefixtures("in_tmp_dir")
def test_boolean_in_the_levels_list_is_refused(tmp_path):
    msg = config_error(write_toml(tmp_path, "[strategy]\nlevels = [163.43, true]\n"))
    assert ": strategy.levels.1: Input should be a number, not a boolean (got True)" in msg


@pytest.mark.usefixtures("in_tmp_dir")
def test_boolean_and_other_problems_are_all_reported(tmp_path):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = true\nrsi_max = 0\n")
    msg = config_error(path)
    assert msg.splitlines() == [
        "invalid configuration (2 problem(s)):",
        f"  {path}: strategy.confirm_closes: Input should be a number, not a boolean (got True)",
        f"  {path}: strategy.rsi_max: Input should be greater than 0 (got 0)",
    ]


@pytest.mark.usefixtures("in_tmp_dir")
def test_stop_loss_given_as_a_number_is_refused(tmp_path):
    path = write_toml(tmp_path, "[risk]\nstop_loss = 1\n")
    assert config_error(path).splitlines()[1] == (
        f"  {path}: risk.stop_loss: Input should be a boolean (true or false), not a number (got 1)"
    )


@pytest.mark.usefixtures("in_tmp_dir")
def test_environment_strings_are_still_converted(tmp_path, monkeypatch):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = 2\n")
    monkeypatch.setenv("BOT_STRATEGY__CONFIRM_CLOSES", "1")
    monkeypatch.setenv("BOT_RISK__STOP_LOSS", "1")
    monkeypatch.setenv("BOT_RISK__TRAILING_STOP", "true")
    monkeypatch.setenv("BOT_PAPER__SPEED", "2.5")
    monkeypatch.setenv("BOT_STRATEGY__LEVELS", "[150, 170.5]")
    s = load_settings(path)
    assert s.strategy.confirm_closes == 1 and type(s.strategy.confirm_closes) is int
    assert s.risk.stop_loss is True and s.risk.trailing_stop is True
    assert s.paper.speed == 2.5
    assert s.strategy.levels == [150.0, 170.5]


@pytest.mark.usefixtures("in_tmp_dir")
def test_boolean_in_an_environment_json_list_names_the_variable(tmp_path, monkeypatch):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = 2\n")
    monkeypatch.setenv("BOT_STRATEGY__LEVELS", "[150, true]")
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if "strategy.levels.1" in ln)
    assert "environment variable BOT_STRATEGY__LEVELS" in line and "not a boolean" in line


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_boolean_for_a_number_exits_2_without_a_traceback(tmp_path):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = true\n")
    proc = bot("signals", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("config error:")
    assert f"{path}: strategy.confirm_closes: Input should be a number, not a boolean" in (
        proc.stderr
    )
