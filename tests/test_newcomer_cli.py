"""What a new user trips over (issue 12, items 2-5 and 7-9), through the real `bot`
command where the output is the point: one line and exit code 2 instead of a
traceback, a list of event names, undamaged help text, notes written where the
console says they are, a warning for a data file named for another symbol, tables
that wrap instead of cutting, and the metrics.json key name.

Expected values are written by hand or computed here from the CSV with pandas.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from bot.models import ET, Direction, Signal, Trade, et_to_ns
from bot.report.views import signal_table, trades_table
from strategies.level_breakout import LevelSignal, SignalKind
from tests.test_paper_support import DAILY_CSV, ROOT, bot_env, run_bot

# ---------------------------------------------------------------- helpers


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exit code 2 and exactly one line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return bot_env(tmp_path / "logs")


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- 2: no tracebacks


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_emulator_on_a_port_in_use_says_so_in_one_line(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_bot(["emulator", "--port", port], env, timeout=60)
    line = one_line_error(proc)
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "--port" in line
    assert "emulator on" not in proc.stdout  # no "listening" banner before the error


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize(
    "args",
    [
        ["backtest", "--out", "{f}"],
        ["backtest", "--out", "{f}/run1"],
        ["sweep", "examples/sweep.toml", "--out", "{f}"],
        ["paper", "--state-dir", "{f}"],
        ["status", "--state-dir", "{f}"],
        ["halt", "--state-dir", "{f}"],
        ["resume", "--state-dir", "{f}/deeper"],
    ],
    ids=["backtest", "backtest-under", "sweep", "paper", "status", "halt", "resume-under"],
)
def test_a_folder_option_pointing_at_a_file(
    args: list[str], a_file: Path, env: dict[str, str]
) -> None:
    argv = [a.format(f=a_file) for a in args]
    line = one_line_error(run_bot(argv, env))
    given = Path(argv[-1])
    option = argv[-2]
    assert str(given) in line and option in line
    if given == a_file:
        assert "is a file, not a folder" in line
    else:
        assert f"cannot be created: {a_file} is a file" in line


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
@pytest.mark.parametrize(
    "args",
    [
        ["backtest", "--out", "{d}/run"],
        ["sweep", "examples/sweep.toml", "--out", "{d}/run"],
        ["paper", "--state-dir", "{d}/state"],
        ["halt", "--state-dir", "{d}/state"],
    ],
    ids=["backtest", "sweep", "paper", "halt"],
)
def test_a_folder_option_in_an_unwritable_folder(
    args: list[str], tmp_path: Path, env: dict[str, str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = [a.format(d=locked) for a in args]
        line = one_line_error(run_bot(argv, env))
    finally:
        locked.chmod(0o700)
    assert f"cannot be created: {locked} is not writable" in line
    assert argv[-2] in line


@pytest.fixture
def not_a_scheduler() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection with an HTTP reply: the
    first 8 bytes, read as a Dask frame length, ask for exabytes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(5)


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_sweep_on_something_that_is_not_a_dask_scheduler(
    not_a_scheduler: int, tmp_path: Path, env: dict[str, str]
) -> None:
    address = f"tcp://127.0.0.1:{not_a_scheduler}"
    args = ["sweep", "examples/sweep.toml", "--out", tmp_path / "s", "--scheduler", address]
    line = one_line_error(run_bot(args, env))
    assert f"no Dask scheduler at {address}: " in line
    assert "EiB" not in line and "allocate" not in line


# ---------------------------------------------------------------- 3: event names

# Written by hand from README's list and the runner's code: every kind of event the
# bot writes to events.jsonl.
EVENT_NAMES = {
    "run_start", "run_end", "bar", "signal", "risk", "order_intent", "order", "fill",
    "trade", "guard", "halt", "reconcile", "warm_up", "retry", "error",
    "position_mismatch", "late", "stream", "bar_revised",
    "alert", "data_stream", "catch_up", "watch_session",  # the level watcher's
}  # fmt: skip


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_an_unknown_event_name_lists_the_valid_ones(env: dict[str, str]) -> None:
    line = one_line_error(run_bot(["logs", "--event", "signals"], env))
    assert "unknown event 'signals'" in line
    assert "did you mean signal?" in line
    listed = set(re.findall(r"[a-z_]+", line.split("the events are:", 1)[1]))
    assert listed == EVENT_NAMES


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_a_known_event_name_is_accepted(env: dict[str, str]) -> None:
    proc = run_bot(["logs", "--event", "signal", "--event", "bar_revised"], env)
    assert proc.returncode == 0, proc.stderr
    assert "0 event(s)" in proc.stdout


def _written_kinds() -> set[str]:
    """The kind of every event type bot/ builds (`ev.Fill.of(...)`, `ev.Halt(...)`, or a
    type imported by name from bot.events); an untyped `events("kind", ...)` call fails."""
    from bot import events as typed

    kinds: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if "emulator" in path.parts:  # the emulator's own (Alpaca) trade events
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "bot"
            for a in node.names
            if a.name == "events"
        }
        names = {
            a.asname or a.name: a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "bot.events"
            for a in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            untyped = node.args and isinstance(node.args[0], ast.Constant)
            assert not (called in ("events", "event", "publish") and untyped), (
                f"{path.name}:{node.lineno}: an event written without its type"
            )
            if isinstance(func, ast.Attribute) and func.attr == "of":
                func = func.value  # ev.Fill.of(...)
            name = None
            if isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in modules:
                name = func.attr
            elif isinstance(func, ast.Name):
                name = names.get(func.id)
            kind = getattr(getattr(typed, name or "", None), "kind", None)
            if isinstance(kind, str):
                kinds.add(kind)
    return kinds


def test_the_list_of_event_names_is_complete() -> None:
    from bot.events.journal import EVENTS

    assert _written_kinds() == EVENT_NAMES
    assert set(EVENTS) == EVENT_NAMES


# ---------------------------------------------------------------- 4: help text

HELP_NAMES = {
    "": [],
    "signals": ["data.path"],
    "backtest": ["data.path"],
    "paper": ["paper.replay_data", "paper.state_dir"],
    "emulator": ["emulator.port"],
    "logs": [],
    "status": ["paper.state_dir"],
    "halt": ["paper.state_dir"],
    "resume": ["paper.state_dir"],
    "config": [],
    "sweep": [],
}


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize("command", list(HELP_NAMES), ids=lambda c: c or "bot")
def test_help_shows_the_config_names(command: str, env: dict[str, str]) -> None:
    env = {**env, "COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    args = [command, "--help"] if command else ["--help"]
    proc = run_bot(args, env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Usage:" in text
    assert not re.search(r"default: \.", text), text  # "(default: .path)": markup ate a name
    assert "(default: )" not in text
    for name in HELP_NAMES[command]:
        assert f"(default: {name})" in text, (name, text)


# ---------------------------------------------------------------- 5: "more in the log"


def _bad_copy(path: Path) -> tuple[list[int], list[tuple[int, int]]]:
    """The bundled daily CSV with 14 prices made negative (file rows 3-16) and 13 rows
    each followed by a copy of itself (a revision): the rejected file rows, and the
    (first, repeat) file rows of each duplicate (the header is row 1)."""
    lines = DAILY_CSV.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    bad_rows = list(range(3, 17))
    for row, line in enumerate(lines[1:], start=2):
        if row in bad_rows:
            cells = line.split(",")
            cells[4] = "-1"
            line = ",".join(cells)
        out.append(line)
        if 102 <= row <= 114:
            out.append(line)
    # File rows 102..114 become pairs: 102/103, 104/105, ..., 126/127.
    pairs = [(102 + 2 * k, 103 + 2 * k) for k in range(13)]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return bad_rows, pairs


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize("command", ["signals", "backtest"])
def test_the_notes_the_console_leaves_out_are_in_bot_log(
    command: str, tmp_path: Path, env: dict[str, str]
) -> None:
    csv = tmp_path / "BABA_1d.csv"
    bad_rows, pairs = _bad_copy(csv)
    args = [command, "--data", csv, "--from", "2026-01-02"]
    if command == "backtest":
        args += ["--out", tmp_path / "run"]
    proc = run_bot(args, env)
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "logs" / "bot.log"
    # 14 rejected rows and 13 duplicates; 10 of each are shown, 7 are not.
    assert "14 row(s) rejected; 13 note(s)" in proc.stdout
    assert f"... 7 more, all in {log}" in proc.stdout
    text = log.read_text(encoding="utf-8")
    for row in bad_rows:
        assert f"row {row}: close=-1.0" in text, row
    for first, repeat in pairs:
        note = rf"row {first} \(\S+\) duplicates row {repeat}; the later row wins"
        assert re.search(note, text), note
    assert len(re.findall(r"rejected bar: ", text)) == len(bad_rows)
    assert len(re.findall(r"data note: ", text)) == len(pairs)
    assert "rejected bar" not in proc.stderr  # the console has its summary on stdout


# ---------------------------------------------------------------- 7: symbol vs file name


def _mismatch_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if "BABA" in ln and "AAPL" in ln and "symbol" in ln]


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
@pytest.mark.parametrize(
    "args",
    [
        ["signals", "--from", "2026-02-01"],
        ["backtest", "--from", "2026-02-01", "--out", "{tmp}/run"],
        ["paper", "--fresh", "--from", "2026-02-10", "--speed", "0", "--state-dir", "{tmp}/st"],
    ],
    ids=["signals", "backtest", "paper"],
)
def test_a_data_file_named_for_another_symbol_is_warned_about(
    args: list[str], tmp_path: Path, env: dict[str, str]
) -> None:
    argv = [a.format(tmp=tmp_path) for a in args]
    proc = run_bot(argv, {**env, "BOT_SYMBOL": "AAPL"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warned = _mismatch_lines(proc.stdout + proc.stderr)
    assert len(warned) == 1, proc.stdout + proc.stderr
    assert "data/BABA_1d.csv" in warned[0]
    assert len(_mismatch_lines((tmp_path / "logs" / "bot.log").read_text("utf-8"))) == 1


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_no_warning_when_the_file_names_the_symbol(tmp_path: Path, env: dict[str, str]) -> None:
    proc = run_bot(["signals", "--from", "2026-02-01"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert not (tmp_path / "logs").exists()  # nothing to log, no log written


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BABA_1d.csv", "BABA"),
        ("BABA_1m_2026-01-29.csv", "BABA"),
        ("AAPL_5min.csv", "AAPL"),
        ("BRK.B_1d.csv", "BRK.B"),
        ("bars.csv", None),
        ("baba_1d.csv", None),
        ("MY_DATA_1d.csv", None),
        ("AAPL.csv", None),
    ],
)
def test_the_symbol_a_file_name_gives(name: str, symbol: str | None) -> None:
    from bot.data.load import symbol_in_name, symbol_warning

    assert symbol_in_name(Path("somewhere") / name) == symbol
    assert symbol_warning(name, symbol or "XYZ") is None  # same symbol (any case) or none
    if symbol is not None:
        assert symbol_warning(name, symbol.lower()) is None
        assert symbol in (symbol_warning(name, "XYZ") or "")


# ---------------------------------------------------------------- 8: narrow terminals

LONG_REASON = (
    "2 closes above the 52-week peak 97.50 +1% (105.07, 107.33), volume 2.9x the 20-bar "
    "mean, and a few more words so that the reason has to wrap at any width"
)


def _ns(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> int:
    return et_to_ns(datetime(y, m, d, hh, mm, tzinfo=ET))


def _level_signal(
    kind: SignalKind,
    level: str,
    value: float,
    ts: int,
    close: float,
    dist: float,
    ratio: float | None,
    reason: str,
) -> Signal:
    up = kind is SignalKind.BREAKOUT
    return LevelSignal(
        ts=ts, kind=kind, tag=level, enters=Direction.LONG if up else Direction.SHORT,
        exits=Direction.SHORT if up else Direction.LONG, close=close, reason=reason,
        strategy="level_breakout", id_prefix="lb", level_value=value, distance_pct=dist,
        volume_ratio=ratio,
    )  # fmt: skip


def _signals() -> list[Signal]:
    return [
        _level_signal(SignalKind.BREAKOUT, "resistance_163.43", 163.43, _ns(2026, 1, 13), 167.01,
                      2.19, 1.73, LONG_REASON),
        _level_signal(SignalKind.BREAKDOWN, "peak_52w", 97.5, _ns(2026, 1, 29, 10, 45), 95.42,
                      -2.13, None, "2 closes below the 52-week peak 97.50 -1% (94.19, 95.42)"),
    ]  # fmt: skip


def _trades() -> list[Trade]:
    return [
        Trade("long", 149, _ns(2026, 1, 14), 171.66, _ns(2026, 2, 6), 160.38, -1680.13, 0.0,
              "breakout", LONG_REASON, "resistance_163.43"),
        Trade("long", 217, _ns(2024, 9, 30), 111.78, _ns(2024, 11, 12, 15, 59), 92.63,
              -4153.86, 0.0, "breakout", "stop", "peak_52w"),
    ]  # fmt: skip


def _render(table: object, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(table)
    return console.export_text()


def _squash(text: str) -> str:
    """The text without whitespace: a wrapped cell reads as one again."""
    return re.sub(r"\s", "", text)


def _last_column(text: str) -> str:
    """The cells of the table's last column (the reason), top to bottom, squashed."""
    rows = [ln.split("│") for ln in text.splitlines() if ln.startswith("│")]
    return _squash("".join(cells[-2] for cells in rows))


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_signal_table_wraps_instead_of_cutting(width: int) -> None:
    text = _render(signal_table(_signals(), "2 signal(s)"), width)
    assert "…" not in text
    assert max(len(ln) for ln in text.splitlines()) <= width
    assert "2026-01-13" in text and "2026-01-29" in text and "10:45" in text
    reasons = _last_column(text)
    for s in _signals():
        assert _squash(s.reason) in reasons, s.reason  # the whole reason, in order
        assert s.tag in text
    for figure in ("163.43", "167.01", "+2.19", "1.73", "97.50", "95.42", "-2.13"):
        assert figure in text, figure


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_trade_table_wraps_instead_of_cutting(width: int) -> None:
    text = _render(trades_table(_trades()), width)
    assert "…" not in text
    assert max(len(ln) for ln in text.splitlines()) <= width
    for day in ("2026-01-14", "2026-02-06", "2024-09-30", "2024-11-12"):
        assert day in text, day
    assert "15:59" in text
    assert _squash(LONG_REASON) in _last_column(text)
    for figure in ("171.66", "160.38", "-1,680.13", "111.78", "92.63", "-4,153.86", "149"):
        assert figure in text, figure
    assert "resistance_163.43" in text and "peak_52w" in text


def test_a_wide_terminal_keeps_one_column_per_figure() -> None:
    text = _render(signal_table(_signals(), "2 signal(s)"), 200)
    assert "level value" in text and "dist %" in text and "vol x" in text


def test_the_sweep_summary_keeps_the_chosen_values_at_120_columns(tmp_path: Path) -> None:
    from bot.sweep import Options, run_sweep
    from bot.sweep.output import print_summary

    spec = tmp_path / "sweep.toml"
    spec.write_text(
        f'base_config = "{ROOT / "tests" / "fixtures" / "base.toml"}"\n'
        'objective = "sharpe"\n'
        f'[data]\npath = "{DAILY_CSV}"\nfrom = 2015-09-21\nto = 2026-02-20\n'
        "[parameters]\n"
        '"strategy.breakout_buffer_pct" = [0.5, 2.0]\n'
        '"strategy.volume_multiple" = [0.0, 1.5]\n'
        '"strategy.breakdown_buffer_pct" = [1.0]\n'
        "[walk_forward]\ntrain_bars = 756\ntest_bars = 252\n",
        encoding="utf-8",
    )
    out = run_sweep(spec, Options(tmp_path / "out", 1, None, False, None, None))
    console = Console(width=120, record=True, force_terminal=False, color_system=None)
    p = out.prep
    print_summary(console, p.series, p.grid, out.choices, out.summaries, out.rules)
    text = console.export_text()
    assert "…" not in text
    chosen = [c for c in out.choices if c.index is not None]
    assert chosen
    for c in chosen:
        combo = dict(zip(p.grid.names, p.grid.combo(c.index), strict=True))
        for name, value in combo.items():
            assert f"{name.split('.', 1)[1]}={value}" in text, (name, value)


# ---------------------------------------------------------------- 9: metrics.json


@pytest.mark.slow  # starts the `bot` command: the subprocess tier
def test_metrics_json_names_buy_and_hold_cagr(tmp_path: Path, env: dict[str, str]) -> None:
    run = tmp_path / "run"
    proc = run_bot(["backtest", "--from", "2025-09-01", "--to", "2026-02-20", "--out", run], env)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert "buy_holdcagr_pct" not in metrics
    df = pd.read_csv(DAILY_CSV, parse_dates=["timestamp"]).set_index("timestamp")
    first, last = df.loc["2025-09-02", "close"], df.loc["2026-02-20", "close"]
    # Elapsed time between the two closes' bar times (midnight ET; the DST change in
    # November makes it 171 days and one hour).
    days = 171 + 1 / 24
    assert (date(2026, 2, 20) - date(2025, 9, 2)).days == 171
    assert df.index[df.index >= "2025-09-01"][0] == pd.Timestamp("2025-09-02")
    expected = ((last / first) ** (365.25 / days) - 1) * 100
    assert metrics["buy_hold_cagr_pct"] == pytest.approx(expected, rel=1e-9)
    assert metrics["buy_hold_return_pct"] == pytest.approx((last / first - 1) * 100, rel=1e-9)


def test_an_option_of_the_wrong_type_is_a_usage_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """typer 0.29 parses with its own copy of click: its usage errors must be caught as
    click's are (exit 2, the usage line, the option named)."""
    from bot.cli.main import run_app

    assert run_app(["scan", "x", "--bars", "abc"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--bars'" in err and "Traceback" not in err, err
