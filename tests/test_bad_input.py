"""Bad input: data files (bot.data.load), configuration (bot.settings) and the CLI's handling.

Row numbers are 1-based file lines with the header as line 1, so the first data row
is row 2.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.config_load import ConfigError, load_settings
from bot.data.load import load_csv
from bot.engine.scan import scan
from bot.models import ET, DataError
from strategies import build_strategy
from strategies.level_config import LevelBreakoutConfig
from tests.conftest import DEFAULT_TOML, MINUTE_CSV, sig_date, weekdays, write_csv

GOOD = [
    "2024-01-02,10,11,9,10,100",
    "2024-01-03,10,11,9,10.5,100",
    "2024-01-04,10,11,9,10.2,100",
    "2024-01-05,10,11,9,10.1,100",
    "2024-01-08,10,11,9,10.3,100",
]

# ---------------------------------------------------------------- rejected rows

BAD_ROWS = [
    ("2024-01-04,nan,11,9,10,100", "open", "finite"),
    ("2024-01-04,10,11,9,,100", "close", "finite"),  # empty field = missing
    ("2024-01-04,10,11,9,inf,100", "close", "finite"),
    ("2024-01-04,10,inf,9,10,100", "high", "finite"),
    ("2024-01-04,10,11,9,-inf,100", "close", "finite"),
    ("2024-01-04,10,11,NaN,10,100", "low", "finite"),
    ("2024-01-04,0,11,9,10,100", "open", "> 0"),
    ("2024-01-04,10,11,-1,10,100", "low", "> 0"),
    ("2024-01-04,10,11,9,10,nan", "volume", "finite"),
    ("2024-01-04,10,9,11,10,100", "high", "below low"),
    ("2024-01-04,12,11,9,10,100", "open", "outside"),
    ("2024-01-04,8.99,11,9,10,100", "open", "outside"),
    ("2024-01-04,10,11,9,11.01,100", "close", "outside"),
    ("2024-01-04,10,11,9,8,100", "close", "outside"),
    ("2024-01-04,10,11,9,10,-1", "volume", ">= 0"),
]


@pytest.mark.parametrize(("row", "field", "why"), BAD_ROWS)
def test_bad_row_is_rejected_with_its_line_and_field(tmp_path, row, field, why):
    # the bad row replaces the 2024-01-04 row: file line 4 (header, 01-02, 01-03, bad)
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], GOOD[1], row, GOOD[3], GOOD[4]])
    res = load_csv(path)
    assert len(res.rejected) == 1
    rej = res.rejected[0]
    assert (rej.row, rej.field) == (4, field)
    assert why in rej.reason
    assert rej.source == str(path)
    assert f"row 4: {field}=" in str(rej) and str(path) in str(rej)
    days = [t.date() for t in res.bars.to_frame().index]
    assert days == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5), date(2024, 1, 8)]


def test_future_bar_is_rejected(tmp_path):
    res = load_csv(write_csv(tmp_path / "bars.csv", [*GOOD[:3], "2099-01-05,10,11,9,10,100"]))
    assert [(r.row, r.field) for r in res.rejected] == [(5, "timestamp")]
    assert "future" in res.rejected[0].reason
    assert len(res.bars) == 3


def test_several_bad_rows_each_named(tmp_path):
    rows = [GOOD[0], "2024-01-03,10,11,9,10,-5", GOOD[2], GOOD[3], "2024-01-08,10,11,12,10,1"]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    assert [(r.row, r.field) for r in res.rejected] == [(3, "volume"), (6, "high")]
    assert len(res.bars) == 3


def test_zero_volume_is_accepted(tmp_path):
    res = load_csv(write_csv(tmp_path / "bars.csv", [*GOOD[:4], "2024-01-08,10,11,9,10,0"]))
    assert res.rejected == [] and len(res.bars) == 5


def test_row_number_is_the_file_line_even_after_a_blank_line(tmp_path):
    path = tmp_path / "bars.csv"
    # line 1 header, 2 good, 3 blank, 4 good, 5 bad (negative close)
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-02,10,11,9,10,100\n"
        "\n"
        "2024-01-03,10,11,9,10,100\n"
        "2024-01-04,10,11,9,-10,100\n",
        encoding="utf-8",
    )
    (rej,) = load_csv(path).rejected
    assert rej.row == 5


BREAKOUT_CFG = LevelBreakoutConfig(
    levels=[100.0], use_52w_peak=False, confirm_closes=1, volume_multiple=1.5, volume_lookback=5
)


def _series_rows(last: str) -> list[str]:
    days = weekdays(date(2024, 1, 2), 12)
    rows = [f"{d.isoformat()},95,96,94,95,1000" for d in days[:11]]
    return [*rows, last.replace("DAY", days[11].isoformat())]


@pytest.mark.parametrize(
    "bad",
    [
        "DAY,95,400,450,500,5000000",  # high < low
        "DAY,95,100,94,500,5000000",  # close above the high
        "DAY,95,501,94,500,-5000000",  # negative volume
        "DAY,nan,501,94,500,5000000",  # missing open
    ],
)
def test_rejected_bar_never_produces_a_signal(tmp_path, bad):
    # control: the same bar made valid is a breakout (500 > 101, volume 5000x the mean)
    good = load_csv(write_csv(tmp_path / "good.csv", _series_rows("DAY,95,501,94,500,5000000")))
    sigs = scan(build_strategy(BREAKOUT_CFG), good.bars).signals
    assert [(s.kind, sig_date(s), s.close) for s in sigs] == [("breakout", date(2024, 1, 17), 500)]
    loaded = load_csv(write_csv(tmp_path / "bad.csv", _series_rows(bad)))
    assert [r.row for r in loaded.rejected] == [13]
    assert len(loaded.bars) == 11 and float(loaded.bars.close.max()) == 95.0
    assert scan(build_strategy(BREAKOUT_CFG), loaded.bars).signals == []


# ---------------------------------------------------------------- duplicates and order


def test_duplicate_timestamp_last_row_wins(tmp_path):
    rows = [GOOD[0], "2024-01-03,10,11,9,10.5,100", "2024-01-03,10,12,9,11.5,999", GOOD[2]]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    frame = res.bars.to_frame()
    assert len(frame) == 3
    assert frame["close"].tolist() == [10, 11.5, 10.2]  # 01-03 from line 4, the later row
    assert frame["volume"].tolist() == [100, 999, 100]
    (note,) = res.notes
    assert "row 3" in note and "row 4" in note and "later row wins" in note
    assert res.rejected == []


def test_duplicate_later_in_file_but_out_of_order_still_wins(tmp_path):
    rows = [GOOD[0], "2024-01-03,10,11,9,10.5,100", GOOD[2], "2024-01-03,10,12,9,11.5,999"]
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    frame = res.bars.to_frame()
    assert frame["close"].tolist() == [10, 11.5, 10.2]
    assert any("row 5" in n and "out of order" in n for n in res.notes)
    assert any("row 3" in n and "duplicates row 5" in n for n in res.notes)


def test_out_of_order_rows_are_sorted_and_reported(tmp_path):
    rows = [GOOD[0], GOOD[2], GOOD[1], GOOD[4], GOOD[3]]  # 01-02, 01-04, 01-03, 01-08, 01-05
    res = load_csv(write_csv(tmp_path / "bars.csv", rows))
    ts = res.bars.ts
    assert (np.diff(ts) > 0).all()
    assert res.bars.close.tolist() == [10, 10.5, 10.2, 10.1, 10.3]
    assert len(res.notes) == 2
    assert "row 4" in res.notes[0] and "out of order" in res.notes[0]  # 01-03 after 01-04
    assert "row 6" in res.notes[1] and "out of order" in res.notes[1]  # 01-05 after 01-08


# ---------------------------------------------------------------- the real 1-minute file


@pytest.fixture(scope="module")
def minute_raw() -> list[tuple[int, dict[str, str]]]:
    """(file line, row) straight from the CSV, independent of bot.data.load."""
    with MINUTE_CSV.open(newline="", encoding="utf-8") as fh:
        return [(i, row) for i, row in enumerate(csv.DictReader(fh), start=2)]


def test_minute_file_irregularities(minute_raw):
    res = load_csv(MINUTE_CSV)
    counts = Counter(row["timestamp"] for _, row in minute_raw)
    dup_times = sorted(t[11:16] for t, k in counts.items() if k > 1)
    readme = ["08:46", "08:53", "08:55", "09:01", "09:06"]  # as listed in data/README.md
    readme += ["09:09", "09:15", "09:24", "09:30", "10:09"]
    assert dup_times == readme
    dup_notes = [n for n in res.notes if "duplicates" in n]
    assert len(dup_notes) == 10
    assert sorted(n.split("T")[1][:5] for n in dup_notes) == dup_times
    # 10:45:01 is on file line 151, 10:45:00 right after it on line 152
    line_0101 = [i for i, row in minute_raw if row["timestamp"].endswith("10:45:01")]
    assert line_0101 == [151]
    (rej,) = res.rejected
    assert (rej.row, rej.field) == (151, "timestamp")
    assert "grid" in rej.reason
    assert any(n.startswith("row 152 ") and "out of order" in n for n in res.notes)
    frame = res.bars.to_frame()
    assert str(frame.index.tz) == "America/New_York"
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert (np.diff(res.bars.ts) > 0).all()
    assert res.bars.timeframe == "1m"


def test_minute_file_regular_hours_and_revisions(minute_raw):
    res = load_csv(MINUTE_CSV)
    all_hours = load_csv(MINUTE_CSV, regular_hours_only=False)
    on_grid = {row["timestamp"] for _, row in minute_raw if row["timestamp"].endswith(":00")}
    rth = {t for t in on_grid if "09:30" <= t[11:16] < "16:00"}
    assert len(all_hours.bars) == len(on_grid) == 272  # 283 rows - 10 duplicates - 1 off grid
    assert len(res.bars) == len(rth) == 206
    assert res.bars.to_frame().index[0].strftime("%H:%M") == "09:30"
    # the later of two rows with the same time is the bar
    last_row = {row["timestamp"]: row for _, row in minute_raw}
    frame = all_hours.bars.to_frame()
    for t in ("2026-01-29T08:46:00", "2026-01-29T09:30:00", "2026-01-29T10:09:00"):
        want = last_row[t]
        got = frame[frame.index.tz_localize(None) == t]
        assert len(got) == 1
        for col in ("open", "high", "low", "close", "volume"):
            assert got[col].iloc[0] == float(want[col]), (t, col)
    # the bar at 10:45 is the on-grid row (line 152), not the rejected 10:45:01
    row_1045 = frame[frame.index.tz_localize(None) == "2026-01-29T10:45:00"]
    assert row_1045["close"].tolist() == [173.52]
    assert frame.index[0].tzinfo is not None and frame.index[0].tz_convert(ET) == frame.index[0]


# ---------------------------------------------------------------- unreadable data files


def test_missing_column(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-02,10,11,9,10\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "missing column" in msg and "volume" in msg


def test_non_numeric_value(tmp_path):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], "2024-01-03,10,11,9,abc,100", GOOD[2]])
    with pytest.raises(DataError) as exc:
        load_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "column close" in msg and "row 3" in msg and "'abc'" in msg


@pytest.mark.parametrize("stamp", ["2024-13-45", "yesterday", "2024-01-03T25:61:00"])
def test_unparseable_timestamp(tmp_path, stamp):
    path = write_csv(tmp_path / "bars.csv", [GOOD[0], GOOD[1], f"{stamp},10,11,9,10,100"])
    with pytest.raises(DataError) as exc:
        load_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "timestamp" in msg and "row 4" in msg and stamp in msg


def test_not_utf8(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_bytes(b"timestamp,open,high,low,close,volume\n2024-01-02,10,11,9,10,100\xff\n")
    with pytest.raises(DataError) as exc:
        load_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "UTF-8" in msg and "0xff" in msg


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "bars.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as exc:
        load_csv(path)
    assert str(path) in str(exc.value) and "empty" in str(exc.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as exc:
        load_csv(path)
    assert str(path) in str(exc.value) and "does not exist" in str(exc.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError) as exc:
        load_csv(tmp_path)
    assert str(tmp_path) in str(exc.value)


# ---------------------------------------------------------------- configuration errors


def write_toml(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    return str(exc.value)


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(
    ("text", "field", "what"),
    [
        ("[strategy]\nconfirm_close = 2\n", "strategy.confirm_close", "unknown key"),
        ("colour = 'red'\n", "colour", "unknown key"),
        ("[strategy]\nconfirm_closes = 'two'\n", "strategy.confirm_closes", "integer"),
        ("[strategy]\nlevels = 'abc'\n", "strategy.levels", "list"),
        ("[strategy]\nuse_52w_peak = [1]\n", "strategy.use_52w_peak", "boolean"),
        ("[strategy]\nbreakout_buffer_pct = -1.0\n", "strategy.breakout_buffer_pct", ">= 0"),
        ("[strategy]\nbreakdown_buffer_pct = -0.5\n", "strategy.breakdown_buffer_pct", ">= 0"),
        ("[strategy]\nconfirm_closes = 0\n", "strategy.confirm_closes", ">= 1"),
        ("[strategy]\nlevels = [163.43, 0]\n", "strategy.levels.1", "> 0"),
        ("[strategy]\nlevels = [-5.0]\n", "strategy.levels.0", "> 0"),
        ("[data]\nregular_hours_only = 'maybe'\n", "data.regular_hours_only", "boolean"),
        ("[strategy]\nlevels = []\nuse_52w_peak = false\n", "strategy", "no level to watch"),
    ],
)
def test_config_error_names_file_and_field(tmp_path, text, field, what):
    path = write_toml(tmp_path, text)
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if f": {field}: " in ln)
    assert str(path) in line
    what_words = {
        ">= 0": "greater than or equal to 0",
        ">= 1": "greater than or equal to 1",
        "> 0": "greater than 0",
    }
    assert what_words.get(what, what) in line


@pytest.mark.usefixtures("in_tmp_dir")
def test_two_problems_are_both_reported(tmp_path):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = 0\nrsi_max = 0\n")
    msg = config_error(path)
    assert "2 problem(s)" in msg
    assert "strategy.confirm_closes" in msg and "strategy.rsi_max" in msg


@pytest.mark.usefixtures("in_tmp_dir")
def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.toml"
    msg = config_error(path)
    assert str(path) in msg and "does not exist" in msg


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_empty_config_file(tmp_path, text):
    path = write_toml(tmp_path, text)
    msg = config_error(path)
    assert str(path) in msg and "empty" in msg


@pytest.mark.usefixtures("in_tmp_dir")
def test_invalid_toml(tmp_path):
    path = write_toml(tmp_path, "[strategy\nconfirm_closes = 2\n")
    msg = config_error(path)
    assert str(path) in msg and "not valid TOML" in msg and "line 1" in msg


@pytest.mark.usefixtures("in_tmp_dir")
@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("alpaca_secret_key", "alpaca_secret_key"),
        ("ALPACA_SECRET_KEY", "ALPACA_SECRET_KEY"),
        ("alpaca_api_key", "alpaca_api_key"),
    ],
)
def test_secret_in_toml_file_is_refused(tmp_path, key, field):
    path = write_toml(tmp_path, f'{key} = "not-a-real-secret-123"\n')
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if field in ln)
    assert str(path) in line


@pytest.mark.usefixtures("in_tmp_dir")
def test_env_override_error_names_the_variable(tmp_path, monkeypatch):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = 2\n", name="ok.toml")
    monkeypatch.setenv("BOT_STRATEGY__CONFIRM_CLOSES", "0")
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if "strategy.confirm_closes" in ln)
    assert "environment variable BOT_STRATEGY__CONFIRM_CLOSES" in line
    assert str(path) not in line
    assert "'0'" in line


@pytest.mark.usefixtures("in_tmp_dir")
def test_env_override_wins_over_the_file(tmp_path, monkeypatch):
    path = write_toml(tmp_path, "[strategy]\nconfirm_closes = 2\n", name="ok.toml")
    monkeypatch.setenv("BOT_STRATEGY__CONFIRM_CLOSES", "3")
    settings = load_settings(path)
    assert settings.strategy.confirm_closes == 3
    assert settings.strategy.levels == [163.43]  # the rest of [strategy] keeps its defaults


def test_dotenv_error_is_not_blamed_on_the_toml_file(in_tmp_dir):
    path = write_toml(in_tmp_dir, "[strategy]\nconfirm_closes = 2\n", name="ok.toml")
    (in_tmp_dir / ".env").write_text("BOT_STRATEGY__CONFIRM_CLOSES=0\n", encoding="utf-8")
    msg = config_error(path)
    line = next(ln for ln in msg.splitlines() if "strategy.confirm_closes" in ln)
    assert str(path) not in line
    assert ".env" in line or "BOT_STRATEGY__CONFIRM_CLOSES" in line


# ---------------------------------------------------------------- the CLI on bad input


def bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}  # BOT_*/ALPACA_* already removed (conftest)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


BAD_CONFIGS = {
    "confirm_zero": ("[strategy]\nconfirm_closes = 0\n", "strategy.confirm_closes"),
    "not_toml": ("[strategy\n", "not valid TOML"),
    "unknown_key": ("[strategy]\nlevel = [1.0]\n", "strategy.level"),
}


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize("command", ["signals", "config"])
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_cli_bad_config_exits_2_without_traceback(tmp_path, command, case):
    text, expected = BAD_CONFIGS[case]
    path = write_toml(tmp_path, text)
    proc = bot(command, "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("config error:")
    assert str(path) in proc.stderr and expected in proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_missing_config_file(tmp_path):
    proc = bot("config", "--config", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert str(tmp_path / "missing.toml") in proc.stderr


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_bad_data_file_exits_2(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-02,10,11,9,10\n", encoding="utf-8")
    proc = bot("signals", "--config", str(DEFAULT_TOML), "--data", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("data error:") and str(path) in proc.stderr
    assert "volume" in proc.stderr


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_unreadable_from_date(tmp_path):
    proc = bot("signals", "--config", str(DEFAULT_TOML), "--from", "notadate", cwd=tmp_path)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert "notadate" in proc.stderr


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_cli_config_never_prints_secrets(tmp_path):
    secret, key_id = "sk-test-0123456789abcdef", "PK-test-ABCDEF987654"
    env = {"ALPACA_SECRET_KEY": secret, "ALPACA_API_KEY": key_id}
    proc = bot("config", "--config", str(DEFAULT_TOML), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert secret not in out and key_id not in out
    body = json.loads(proc.stdout.split("\n", 1)[1])
    assert body["alpaca_secret_key"] == "**********"
    assert body["alpaca_api_key"] == "**********"
    assert body["strategy"]["levels"] == [163.43]
