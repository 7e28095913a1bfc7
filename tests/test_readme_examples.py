"""Every command the README shows is run here, as printed, and does what the README says.

The README's shell blocks are parsed; `test_every_readme_command_is_run` fails when a
command is added there without a test here. Each command runs as a user would type it:
the real `bot` in a subprocess, in a scratch folder that holds the user's `state/`,
`logs/` and `runs/` (with `examples/` linked from the project, so the paths in the
README resolve as in a clone). Two substitutions only: the emulator gets a free port
instead of 8765 (another run may hold it), and the Dask example's address is a local
two-process cluster's instead of a remote one.

Expected figures are the README's own text (the trade block, the config error) and
hand-checkable facts of the bundled data (two fills, equity 98,319.87, the sweep's
written header against `bot backtest`), never the output of one command copied into
the expectation of the same command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_paper_support import BOT, KEYS, ROOT, stop_quietly, wait_for

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"


def shell_blocks() -> list[list[str]]:
    """The command lines of each ```sh block, comments dropped."""
    blocks, current, inside = [], [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.strip() == "```sh":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append(current)
        elif inside:
            command = line.split(" #", 1)[0].strip()
            if command:
                current.append(command)
    return blocks


def readme_block_after(marker: str) -> list[str]:
    """The lines of the first plain ``` block after the line that contains `marker`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    open_at = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
    close_at = next(i for i in range(open_at + 1, len(lines)) if lines[i].strip() == "```")
    return lines[open_at + 1 : close_at]


# README command -> the test below that runs it.
COVERED = {
    "make run": "test_make_run_prints_the_readme_trade",
    "make test": "(this suite: CI runs `make test`)",
    "bot paper --fresh": "test_paper_flow",
    "bot paper --fresh --from 2025-12-01 --speed 10": "test_paper_flow",
    "bot emulator &": "test_paper_flow",
    "bot paper --fresh --emulator-url http://127.0.0.1:8765": "test_paper_flow",
    "bot paper --emulator-url http://127.0.0.1:8765": "test_paper_flow",
    "bot status [--state-dir DIR]": "test_paper_flow",
    "bot logs --event signal": "test_paper_flow",
    "bot halt [--flatten]": "test_paper_flow",
    "bot resume": "test_paper_flow",
    "bot sweep examples/sweep.toml": "test_sweep_flow",
    "bot sweep examples/sweep.toml --out runs/s1 --write-config runs/s1/chosen.toml": (
        "test_sweep_flow"
    ),
    "bot sweep examples/sweep.toml --out runs/s1 --resume": "test_sweep_flow",
    "bot sweep examples/sweep.toml --out runs/s1 --resume --write-config runs/s1/chosen.toml "
    "--force": "test_sweep_flow",
    "bot sweep examples/sweep.toml --heatmap confirm_closes,volume_multiple --workers 2": (
        "test_sweep_flow"
    ),
    "bot sweep examples/sweep.toml --scheduler tcp://10.0.0.5:8786": "test_sweep_on_dask",
    "bot sweep examples/sweep.toml --out runs/e --engine": "test_sweep_flow",
    "bot backtest --config runs/s1/chosen.toml --from 2015-09-21 --to 2026-02-20": (
        "test_sweep_flow"
    ),
    "bot data fetch AAPL MSFT --from 2024-01-01": "test_data_flow",
    "bot data update": "test_data_flow",
    "bot data list": "test_data_flow",
    "bot data export AAPL --out aapl.csv": "test_data_flow",
    "bot data import my_bars/XYZ_1d.csv": "test_data_flow",
    "bot scan universe.txt": "test_scan_flow",
    "bot scan universe.txt --bars 15 --out runs/scan1 --scheduler tcp://10.0.0.5:8786": (
        "test_scan_flow"
    ),
    "bot watch": "test_watch_flow",
    "bot study --symbol BABA": "tests/test_study.py::test_bot_study_on_baba",
    "bot levels suggest BABA --asof 2026-01-09": (
        "tests/test_levels_suggest.py::test_every_level_was_touched_twice_by_asof"
    ),
    "bot data fetch AAPL MSFT BABA --from 2015-01-01": "test_watchlist_flow",
    "bot backtest --config watch.toml --out runs/watch": "test_watchlist_flow",
    "bot paper --config watch.toml --fresh --state-dir state/watch": "test_watchlist_flow",
    "bot status --config watch.toml --state-dir state/watch": "test_watchlist_flow",
    "bot paper --config watch.toml --broker alpaca --state-dir state/watch-live": (
        "test_watchlist_flow"
    ),
}


def test_every_readme_command_is_run() -> None:
    commands = [c for block in shell_blocks() for c in block]
    assert len(commands) == len(set(commands)), "a README command appears twice"
    assert set(commands) == set(COVERED), (
        f"not run by a test: {sorted(set(commands) - set(COVERED))}; "
        f"no longer in the README: {sorted(set(COVERED) - set(commands))}"
    )


# ---------------------------------------------------------------- running as a user


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A scratch folder standing for the clone a user works in."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    return tmp_path


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.upper().startswith(("BOT_", "ALPACA_"))}
    out["PYTHONUNBUFFERED"] = "1"
    out["COLUMNS"] = "200"  # the tables print whole lines; wrapping is tested elsewhere
    return out


def words(command: str, subst: dict[str, str] | None = None) -> list[str]:
    for old, new in (subst or {}).items():
        command = command.replace(old, new)
    parts = shlex.split(command)
    assert parts[0] == "bot"
    return [str(BOT), *parts[1:]]


def run(
    cwd: Path, command: str, subst: dict[str, str] | None = None, timeout: float = 300
) -> tuple[int, str, str]:
    proc = subprocess.run(
        words(command, subst), cwd=cwd, env=env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- make run


def test_make_run_prints_the_readme_trade(user_dir: Path) -> None:
    """The `run` recipe of the Makefile, command by command, prints the README's block."""
    recipe, inside = [], False
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("run:"):
            inside = True
        elif inside and line.startswith("\t"):
            recipe.append(line.strip().replace("$(BIN)/bot", "bot"))
        elif inside:
            break
    assert recipe == ["bot signals --from 2025-09-01", "bot paper --fresh"]
    output = ""
    for command in recipe:
        code, out, err = run(user_dir, command)
        assert code == 0, out + err
        output += out
    shown = readme_block_after("then paper-trades that replay offline")
    assert len(shown) == 7
    for line in shown:
        assert line in output.splitlines(), line
    # The signal table of `bot signals` has the same two signals.
    assert re.search(r"2026-01-13 .* breakout .* resistance_163\.43", output)
    assert re.search(r"2026-02-05 .* breakdown .* resistance_163\.43", output)


def test_the_config_error_example(user_dir: Path) -> None:
    (user_dir / "config").mkdir()
    text = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^confirm_closes = 2 ", "confirm_closes = 0 ", text)
    assert n == 1
    (user_dir / "config" / "my.toml").write_text(text, encoding="utf-8")
    code, _, err = run(user_dir, "bot signals --config config/my.toml")
    assert code == 2
    assert err.splitlines() == readme_block_after("naming the file (or environment variable)")


# ---------------------------------------------------------------- paper trading


@pytest.fixture
def emulator(user_dir: Path) -> Iterator[str]:
    """`bot emulator &`, on a free port."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BOT), "emulator", "--port", str(port)], cwd=user_dir, env=env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for("bot emulator to listen", up, timeout=60)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stop_quietly(proc)


def done_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("Done: "))


def emulator_orders(url: str) -> list[str]:
    import requests

    headers = {"APCA-API-KEY-ID": KEYS[0], "APCA-API-SECRET-KEY": KEYS[1]}
    resp = requests.get(f"{url}/_emulator/state", headers=headers, timeout=10)
    resp.raise_for_status()
    return [o["client_order_id"] for o in resp.json()["orders"]]


def test_paper_flow(user_dir: Path, emulator: str) -> None:
    here = "http://127.0.0.1:8765"
    trade = "2 fill(s); position 0 shares, equity 98,319.87"
    code, out, err = run(user_dir, "bot paper --fresh")
    assert code == 0, out + err
    assert done_line(out).startswith("Done: 119 bar(s) traded") and trade in out
    code, out, err = run(user_dir, "bot paper --fresh --from 2025-12-01 --speed 10")
    assert code == 0, out + err
    assert "from 2025-12-01" in out and trade in out  # the trade is in January and February

    # Right after `make run`: the state is the in-process emulator's, which is gone. The
    # new emulator's account does not know its orders: refused, nothing traded.
    code, out, err = run(user_dir, f"bot paper --emulator-url {here}", {here: emulator})
    assert code == 4, out + err
    assert "this state belongs to another account or another emulator" in out + err
    assert "--fresh" in (out + err).strip().splitlines()[-1]
    assert emulator_orders(emulator) == []

    # A new replay in the emulator's account, killed half-way, then resumed.
    events = user_dir / "logs" / "events.jsonl"
    before = len(events.read_text(encoding="utf-8").splitlines())  # earlier runs' events
    fresh = words(f"bot paper --fresh --emulator-url {here} --speed 10", {here: emulator})
    proc = subprocess.Popen(
        fresh, cwd=user_dir, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip

    def bought() -> bool:
        lines = events.read_text(encoding="utf-8").splitlines()[before:]
        return any('"event":"fill"' in line for line in lines)

    try:
        wait_for("the replay's first fill", bought, timeout=120)
    finally:
        proc.kill()  # a crash of the bot
        proc.communicate()
    code, out, err = run(user_dir, f"bot paper --emulator-url {here}", {here: emulator})
    assert code == 0, out + err
    bars = int(re.search(r"Done: (\d+) bar", done_line(out)).group(1))  # type: ignore[union-attr]
    assert 0 < bars < 119  # resumed where the killed run stopped, not from the start
    assert trade in out
    assert emulator_orders(emulator) == [
        "lb-BABA-r163.43-20260113T0000-buy",
        "lb-BABA-r163.43-20260205T0000-sell",
    ]

    for command in ("bot status", "bot status --state-dir state"):
        code, out, err = run(user_dir, command)
        assert code == 0, out + err
        assert "position 0 shares; cash 98,319.87; equity 98,319.87; P&L -1,680.13" in out
    code, out, err = run(user_dir, "bot logs --event signal")
    assert code == 0, out + err
    # The last run is the resumed one: the breakout (and the buy) were the killed run's.
    assert out.count("kind=breakdown") == 1 and "kind=breakout" not in out, out
    for command in ("bot halt", "bot halt --flatten"):
        code, out, err = run(user_dir, command)
        assert code == 0, out + err
        code, out, err = run(user_dir, "bot status")
        assert "HALTED" in out.upper(), out
        code, out, err = run(user_dir, "bot resume")
        assert code == 0, out + err
        code, out, err = run(user_dir, "bot status")
        assert "trading allowed" in out, out


# ---------------------------------------------------------------- sweeps


def test_sweep_flow(user_dir: Path) -> None:
    code, out, err = run(user_dir, "bot sweep examples/sweep.toml")
    assert code == 0, out + err
    assert len(list((user_dir / "runs").glob("sweep-*/report.html"))) == 1
    if importlib.util.find_spec("numba") is not None:  # the fast extra: `make` installs it
        assert "all 135 by the compiled kernel" in out

    chosen = user_dir / "runs" / "s1" / "chosen.toml"
    write = "bot sweep examples/sweep.toml --out runs/s1 --write-config runs/s1/chosen.toml"
    code, out, err = run(user_dir, write)
    assert code == 1, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("refusing to write runs/s1/chosen.toml: the chosen set (")
    assert line.endswith("pass --force to write it anyway") and not chosen.exists()
    assert (user_dir / "runs" / "s1" / "report.html").exists()

    results = (user_dir / "runs" / "s1" / "results.csv").read_bytes()
    # The engine scores every set: the very same figures, byte for byte.
    code, out, err = run(user_dir, "bot sweep examples/sweep.toml --out runs/e --engine")
    assert code == 0, out + err
    assert "135 by the engine (135 because the sweep was run with --engine)" in out
    assert (user_dir / "runs" / "e" / "results.csv").read_bytes() == results

    code, out, err = run(user_dir, "bot sweep examples/sweep.toml --out runs/s1 --resume")
    assert code == 0, out + err
    assert "135 of 135 combinations already scored" in out
    assert (user_dir / "runs" / "s1" / "results.csv").read_bytes() == results

    force = write.replace("--write-config", "--resume --write-config") + " --force"
    code, out, err = run(user_dir, force)
    assert code == 0, out + err
    header = chosen.read_text(encoding="utf-8")
    assert "NOT RECOMMENDED (written with --force)" in header

    code, out, err = run(
        user_dir,
        "bot sweep examples/sweep.toml --heatmap confirm_closes,volume_multiple --workers 2",
    )
    assert code == 0, out + err

    # The written config over the whole range: `bot backtest` gives the figures its header
    # states for "the same set over the whole range".
    backtest = "bot backtest --config runs/s1/chosen.toml --from 2015-09-21 --to 2026-02-20"
    code, out, err = run(user_dir, backtest + " --out runs/bt")
    assert code == 0, out + err
    metrics = json.loads((user_dir / "runs" / "bt" / "metrics.json").read_text(encoding="utf-8"))
    m = re.search(r"# Same set over the whole range .*total return (-?[\d.]+)%", header)
    assert m, header
    assert f"{metrics['total_return_pct']:.2f}" == m.group(1)


def test_sweep_on_dask(user_dir: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:  # fmt: skip
        address = str(cluster.scheduler_address)
        command = "bot sweep examples/sweep.toml --scheduler tcp://10.0.0.5:8786 --out runs/d"
        code, out, err = run(user_dir, command, {"tcp://10.0.0.5:8786": address})
        code_local, out_local, err_local = run(
            user_dir, "bot sweep examples/sweep.toml --out runs/local --workers 1"
        )
    assert code == 0, out + err
    assert code_local == 0, out_local + err_local
    assert "Dask" in out or address in out
    dask_csv = (user_dir / "runs" / "d" / "results.csv").read_bytes()
    assert dask_csv == (user_dir / "runs" / "local" / "results.csv").read_bytes()


# ---------------------------------------------------------------- market data


def user_env(user_dir: Path, url: str) -> None:
    """The user's `.env`: their paper keys, and (the test's substitution) Alpaca's URLs
    pointed at the emulator on 127.0.0.1; the store in their folder."""
    (user_dir / ".env").write_text(
        "ALPACA_API_KEY=user-key\nALPACA_SECRET_KEY=user-secret\n"
        f"BOT_ALPACA__TRADING_URL={url}\nBOT_ALPACA__DATA_URL={url}\n"
        f"BOT_DATA__STORE={user_dir / 'store'}\n",
        encoding="utf-8",
    )


def test_data_flow(user_dir: Path) -> None:
    """The `bot data` block, with the user's keys in `.env` and Alpaca played by the
    emulator on 127.0.0.1 (serving AAPL and MSFT: BABA's bars scaled), its clock the
    evening of 2026-02-20; the store in the user's folder."""
    import csv
    from datetime import UTC, datetime

    from bot.emulator import EmulatorServer, EmulatorState

    market = user_dir / "market"
    market.mkdir()
    with (ROOT / "data" / "BABA_1d.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for sym, k in (("AAPL", 1.5), ("MSFT", 2.5)):
        with (market / f"{sym}_1d.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow(
                    r
                    | {c: repr(round(float(r[c]) * k, 4)) for c in ("open", "high", "low", "close")}
                )
    (user_dir / "my_bars").mkdir()
    xyz = [r for r in rows if r["timestamp"] >= "2025-01-01"]
    with (user_dir / "my_bars" / "XYZ_1d.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(xyz)
    state = EmulatorState.from_dir(market, datetime(2026, 2, 20, 23, 0, tzinfo=UTC))
    with EmulatorServer(state, api_key="user-key", secret_key="user-secret") as srv:
        user_env(user_dir, srv.url)
        aapl_2024 = [r for r in rows if r["timestamp"] >= "2024-01-01"]
        code, out, err = run(user_dir, "bot data fetch AAPL MSFT --from 2024-01-01")
        assert code == 0, out + err
        assert f"AAPL 1d: {len(aapl_2024)} new bar(s)" in out
        assert f"MSFT 1d: {len(aapl_2024)} new bar(s)" in out
        code, out, err = run(user_dir, "bot data update")
        assert code == 0, out + err
        assert "AAPL 1d: 0 new bar(s), 0 revised, 5 unchanged" in out
    code, out, err = run(user_dir, "bot data list")
    assert code == 0, out + err
    assert "AAPL" in out and "MSFT" in out and "2026-02-20" in out
    code, out, err = run(user_dir, "bot data export AAPL --out aapl.csv")
    assert code == 0, out + err
    with (user_dir / "aapl.csv").open(newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert [float(r["close"]) for r in exported] == [
        round(float(r["close"]) * 1.5, 4) for r in aapl_2024
    ]
    code, out, err = run(user_dir, "bot data import my_bars/XYZ_1d.csv")
    assert code == 0, out + err
    assert f"XYZ 1d: {len(xyz)} new bar(s)" in out


# ---------------------------------------------------------------- scans


def _scan_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_scan_flow(user_dir: Path) -> None:
    """Both scan commands: BABA (the bundled file) against its 52-week peak, worked out
    here from the file, and a symbol without data; the Dask run writes what a local run
    writes, with the README's 2026-02-05 breakdown among the last 15 bars."""
    import csv

    distributed = pytest.importorskip("distributed")
    (user_dir / "universe.txt").write_text("# watched, and one never fetched\nBABA, NOPEX\n")
    with (ROOT / "data" / "BABA_1d.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    peak = max(float(r["high"]) for r in rows[-253:-1])  # the 252 sessions before the last
    distance = (float(rows[-1]["close"]) / peak - 1) * 100

    code, out, err = run(user_dir, "bot scan universe.txt")
    assert code == 0, out + err
    (folder,) = (user_dir / "runs").glob("scan-*")
    baba, nopex = _scan_csv(folder / "scan.csv")
    assert (baba["symbol"], baba["status"], nopex["status"]) == ("BABA", "ok", "no data")
    assert float(baba["peak_52w"]) == peak
    assert float(baba["peak_distance_pct"]) == pytest.approx(distance, abs=1e-4)
    assert "bot data fetch NOPEX" in nopex["note"] and (folder / "scan.html").is_file()
    assert f"{distance:+.2f}" in out and "1 symbol(s) without data: NOPEX" in out

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:  # fmt: skip
        address = str(cluster.scheduler_address)
        command = "bot scan universe.txt --bars 15 --out runs/scan1 --scheduler tcp://10.0.0.5:8786"
        code, out, err = run(user_dir, command, {"tcp://10.0.0.5:8786": address})
    assert code == 0, out + err
    assert f"on the Dask cluster at {address}" in out
    code_local, out_local, err_local = run(
        user_dir, "bot scan universe.txt --bars 15 --out runs/local --workers 1"
    )
    assert code_local == 0, out_local + err_local
    dask_csv = (user_dir / "runs" / "scan1" / "scan.csv").read_bytes()
    assert dask_csv == (user_dir / "runs" / "local" / "scan.csv").read_bytes()
    baba = _scan_csv(user_dir / "runs" / "scan1" / "scan.csv")[0]
    assert baba["signals"] == "2026-02-05 breakdown resistance_163.43 (163.43)"


def readme_toml_after(marker: str) -> str:
    """The first ```toml block after the line that contains `marker`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    open_at = next(i for i in range(start, len(lines)) if lines[i].strip() == "```toml")
    close_at = next(i for i in range(open_at + 1, len(lines)) if lines[i].strip() == "```")
    return "\n".join(lines[open_at + 1 : close_at]) + "\n"


def test_watchlist_flow(user_dir: Path) -> None:
    """The whole flow for three stocks: fetch, backtest, paper replay, status, and the
    Alpaca paper run (the emulator on 127.0.0.1 plays Alpaca, its clock the evening of
    2026-02-20: the run warms up, reconciles every symbol, then waits for the next
    session and is stopped with Ctrl-C)."""
    import csv
    from datetime import UTC, datetime

    from bot.emulator import EmulatorServer, EmulatorState

    market = user_dir / "market"
    market.mkdir()
    with (ROOT / "data" / "BABA_1d.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for sym, k in (("BABA", 1.0), ("AAPL", 1.5), ("MSFT", 2.5)):
        with (market / f"{sym}_1d.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                prices = {
                    c: repr(round(float(r[c]) * k, 4)) for c in ("open", "high", "low", "close")
                }
                w.writerow(r | prices)
    config = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    (user_dir / "watch.toml").write_text(
        config + "\n" + readme_toml_after("#### The whole flow"), encoding="utf-8"
    )
    state = EmulatorState.from_dir(market, datetime(2026, 2, 20, 23, 0, tzinfo=UTC))
    with EmulatorServer(state, api_key="user-key", secret_key="user-secret") as srv:
        user_env(user_dir, srv.url)
        code, out, err = run(user_dir, "bot data fetch AAPL MSFT BABA --from 2015-01-01")
        assert code == 0, out + err
        code, out, err = run(user_dir, "bot backtest --config watch.toml --out runs/watch")
        assert code == 0, out + err
        summary = json.loads((user_dir / "runs" / "watch" / "metrics.json").read_text())
        assert list(summary["symbols"]) == ["BABA", "AAPL", "MSFT"]
        code, out, err = run(
            user_dir, "bot paper --config watch.toml --fresh --state-dir state/watch"
        )
        assert code == 0, out + err
        assert "positions BABA 0, AAPL 0, MSFT 0" in done_line(out)
        code, out, err = run(user_dir, "bot status --config watch.toml --state-dir state/watch")
        assert code == 0, out + err
        assert "BABA, AAPL, MSFT:" in out
        for sym in ("BABA", "AAPL", "MSFT"):
            assert any(line.startswith(f"│ {sym}") for line in out.splitlines()), out
        live = subprocess.Popen(
            words("bot paper --config watch.toml --broker alpaca --state-dir state/watch-live"),
            cwd=user_dir, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            journal = user_dir / "logs" / "events.jsonl"

            def reconciled() -> bool:
                if not journal.exists():
                    return False
                evs = [json.loads(x) for x in journal.read_text(encoding="utf-8").splitlines()]
                live_run = [e for e in evs if e.get("state_dir", "").endswith("watch-live")]
                if not live_run:
                    return False
                start = evs.index(live_run[-1])
                done = {e.get("symbol") for e in evs[start:] if e["event"] == "reconcile"}
                return done == {"BABA", "AAPL", "MSFT"}

            wait_for("the live run to reconcile every symbol", reconciled, timeout=120)
            live.send_signal(signal.SIGINT)
            output, _ = live.communicate(timeout=60)
        finally:
            stop_quietly(live)
    assert live.returncode == 130, output
    assert "Trading BABA, AAPL, MSFT on" in output


def test_watch_flow(user_dir: Path) -> None:
    """The `bot watch` block: the README's `.env` (its keys replaced by the emulator's, its
    Telegram URL by a local json:// receiver; Alpaca's URLs pointed at the emulator), the
    shipped config (BABA at 163.43), and `bot watch`. The emulator replays the scripted
    morning of tests/test_watch_live.py moved down by 36.57 (its level 200 becomes 163.43):
    approaching at 09:40, then crossed (provisional) at 09:42, each with its chart.
    Ctrl-C ends it (130). A real Telegram URL is taken as one that carries attachments."""
    import shutil
    from datetime import UTC

    from bot.alerts.channels import Channels
    from bot.emulator import EmulatorServer, EmulatorState
    from tests.alert_receiver import Receiver
    from tests.test_watch_live import advance, et, script, subscribed

    shift = 200.0 - 163.43
    market = user_dir / "market"
    market.mkdir()
    shutil.copy(ROOT / "data" / "BABA_1d.csv", market / "BABA_1d.csv")
    rows = ["timestamp,open,high,low,close,volume"]
    for hm, *prices in script():
        rows.append(f"2026-01-29T{hm}:00," + ",".join(f"{x - shift:.2f}" for x in prices) + ",1000")
    (market / "BABA_1m_2026-01-29.csv").write_text("\n".join(rows) + "\n")
    lines = readme_block_after("All a user needs is a paper account")
    assert any(line.startswith("BOT_ALERT_URLS_DEFAULT=tgram://") for line in lines), lines
    receiver = Receiver().start()
    state = EmulatorState.from_dir(market, et(9, 30).astimezone(UTC))
    with EmulatorServer(state, api_key="watch-key", secret_key="watch-secret") as srv:
        subst = {
            "PK...": "watch-key",
            "=...": "=watch-secret",
            "tgram://BOT_TOKEN/CHAT_ID": receiver.url,
        }
        dotenv = []
        for line in lines:
            for old, new in subst.items():
                line = line.replace(old, new)
            dotenv.append(line)
        dotenv += [f"BOT_ALPACA__TRADING_URL={srv.url}", f"BOT_ALPACA__DATA_URL={srv.url}",
                   "BOT_WATCH__CLOCK_S=0.2", "BOT_WATCH__CHART_WAIT_S=60"]  # fmt: skip
        (user_dir / ".env").write_text("\n".join(dotenv) + "\n", encoding="utf-8")
        proc = subprocess.Popen(
            words("bot watch"), cwd=user_dir, env=env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not subscribed(srv.url) and proc.poll() is None:
                assert time.monotonic() < deadline, "bot watch never subscribed"
                time.sleep(0.05)
            advance(srv.url, et(9, 45))
            assert receiver.wait_for(2, timeout=60), receiver.received()
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
            receiver.stop()
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    said = [(str(p["title"]), p.get("attachments") or []) for p in receiver.received()]
    assert said[0][0] == "BABA is approaching 163.43", said
    assert said[1][0] == "BABA crossed up through 163.43 (provisional)", said
    assert all(len(att) == 1 for _, att in said), "each tier alert carries its chart"
    telegram = Channels.from_env(
        {
            "BOT_ALERT_URLS_DEFAULT": "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890"
        },
        None,
    )
    assert [t.takes_attachments for t in telegram.targets("default")] == [True]
