"""Alert latency (issue 15), printed by `make bench`: from a bar's close to the alert
delivered at a local receiver (Apprise `json://` to an HTTP server on 127.0.0.1).

Through the live stream, as `bot watch` runs (the issue's figures): `bot watch` in a
subprocess, alpaca-py's StockDataStream on the emulator's market-data WebSocket, which
replays scripted minute bars of 2026-01-29 as its clock is moved a minute at a time
(`POST /_emulator/advance`). A bar's close is the moment the advance that ends its minute
returns: the emulator queues the bar on the socket just before that answer. The latency
of an alert is its arrival at the receiver minus that moment: the socket, alpaca-py,
the watcher's tiers, the alert's PNG chart, the outbox (SQLite) and the deliverer's
thread through Apprise. Each minute's alerts are all awaited before the next advance.
The watcher runs on config/default.toml as shipped, its watchlist replaced by the
benchmark's symbols (XAA, XAB, ...: BABA's daily bars for the warm-up, a level at 100).

- 1 symbol: a bar through its level every minute (crossed up, then failed back below,
  and again), 30 minutes: p50 and p99 of the 30 alerts;
- 100 symbols streaming minute bars, all 100 through their level in the same minute,
  3 minutes (300 alerts): p50 and p99;
- both again without charts (`[watch] charts = false`), to show what the charts cost.
  With charts, an alert waits at most `[watch] chart_wait_s` (0.5 s) for its chart,
  drawn off the bar loop (bot/watch/charts.py): in a burst the charts that cannot keep
  up are left out, and the line says how many alerts arrived with one.

Before the measured minutes one symbol crosses and fails once, a warm-up not counted
(the first alert after the start: its latency is printed apart).

In-process, no stream (the pipeline after the socket): the level tiers are handed a bar,
the alert is written to the outbox and sent by the deliverer's thread to the receiver:

- one symbol: a bar that crosses a level, every 50 ms, 100 times: p50 and p99;
- 100 symbols: one minute bar for each, all crossing their level at once.

The rate limit is lifted for the measurement (it would turn a burst into a digest on
purpose). The reference printed beside each figure is the receiver's own round trip: one
bare HTTP POST from this process, measured in the same run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/bench_alerts.py`
    sys.path.insert(0, str(ROOT))

from bot.alerts.channels import Channels  # noqa: E402
from bot.alerts.deliver import Deliverer  # noqa: E402
from bot.alerts.tiers import LevelTiers, TierConfig  # noqa: E402
from bot.config_load import load_settings  # noqa: E402
from bot.models import ET, Bar  # noqa: E402
from bot.store.state import StateStore  # noqa: E402
from bot.watch.alerts import alert_of  # noqa: E402

T0 = 1_769_697_000_000_000_000
MIN = 60_000_000_000
TARGET_MS = 1000.0
_BAR_TIME = re.compile(r"\d{4}-\d\d-\d\d (\d\d:\d\d) ET:")


class _Receiver:
    """Keeps, for each alert id a message carries, when it arrived (perf_counter) and the
    time of the bar it is about (HH:MM ET, from a tier alert's body)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bar_of: dict[str, str] = {}
        self.per_bar: Counter[str] = Counter()
        self.charted: set[str] = set()  # alerts that came with their chart attached
        got, bars, per_bar, charted = self.arrived, self.bar_of, self.per_bar, self.charted
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.perf_counter()
                post = json.loads(body or b"{}")
                msg = str(post.get("message", ""))
                when = _BAR_TIME.search(msg)
                with lock:
                    for line in msg.splitlines():
                        if line.startswith("alert id: "):
                            key = line[10:].strip()
                            got[key] = now
                            if post.get("attachments"):
                                charted.add(key)
                            if when is not None:
                                bars[key] = when.group(1)
                                per_bar[when.group(1)] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, n: int, timeout: float = 30.0) -> None:
        end = time.perf_counter() + timeout
        while len(self.arrived) < n and time.perf_counter() < end:
            time.sleep(0.002)


def _round_trip_ms(rec: _Receiver) -> float:
    url = rec.url.replace("json://", "http://")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        req = urllib.request.Request(url, data=b'{"message": ""}', method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def _verdict(p99: float) -> str:
    return "OK" if p99 <= TARGET_MS else f"MISSED: p99 over {TARGET_MS / 1000:g} s"


# -- through the live stream: `bot watch` on the emulator -------------------------------
KEY, SECRET = "bench-key", "bench-secret"
ADMIN = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
OPEN = datetime(2026, 1, 29, 9, 30, tzinfo=ET)
LEVEL = 100.0
QUIET = 3  # minutes 09:30.. at 95 for every symbol: no alert
WARM = 2  # then the first symbol's warm-up: a cross and its failure (not counted)
TAIL = 3  # quiet minutes moved through after the measured ones (nothing may come)
Ohlc = tuple[float, float, float, float]
FLAT = (95.0, 95.2, 94.8, 95.0)
UP = (95.0, 101.0, 95.0, 101.0)  # from below, through 100, closed above: crossed up
BACK = (101.0, 101.0, 95.0, 95.0)  # closed back below: failed (then re-armed, 5 % away)


@dataclass
class StreamRun:
    symbols: int
    minutes: int
    charts: bool
    latencies: np.ndarray  # ms, one per alert of the measured minutes that arrived
    expected: int
    first_ms: float | None  # the first alert after the start (a warm-up, not counted)
    start_s: float  # from the subprocess's start to the stream subscribed
    advance_ms: float  # median time an advance took to return
    seconds: float  # the whole run
    with_chart: int = 0  # measured alerts that arrived with their chart


def _sym(k: int) -> str:
    """The k-th benchmark symbol (letters only, as the emulator's file names want): XAA.."""
    return "X" + chr(65 + k // 26) + chr(65 + k % 26)


def _script(minutes: int) -> tuple[list[Ohlc], list[Ohlc]]:
    """The first symbol's bars and the others', a minute each from 09:30: quiet minutes,
    then (first symbol only) one unmeasured cross and failure, then `minutes` measured
    minutes in which every symbol goes through its level, then quiet again."""
    measured = [UP if k % 2 == 0 else BACK for k in range(minutes)]
    tail = [FLAT] * (TAIL + 5)
    first = [FLAT] * QUIET + [UP, BACK] + measured + tail
    others = [FLAT] * (QUIET + WARM) + measured + tail
    return first, others


def _config(n: int) -> str:
    """config/default.toml as shipped, its watchlist replaced by `n` symbols at 100."""
    shipped = (ROOT / "config" / "default.toml").read_text()
    kept, skip = [], False
    for line in shipped.splitlines():
        header = re.match(r"\[([^\]]+)\]", line)
        if header is not None:
            skip = header.group(1).strip().startswith("watchlist")
        if not skip:
            kept.append(re.sub(r'^symbol\s*=\s*"[^"]*"', f'symbol = "{_sym(0)}"', line))
    text = "\n".join(kept) + "\n"
    want = {k: v for k, v in tomllib.loads(shipped).items() if k not in ("watchlist", "symbol")}
    got = tomllib.loads(text)
    if got.pop("symbol", None) != _sym(0) or got != want:
        raise RuntimeError("config/default.toml: cannot replace its symbol and [watchlist]")
    return text + "".join(f"\n[watchlist.{_sym(k)}]\nlevels = [{LEVEL}]\n" for k in range(n))


def _market(d: Path, n: int, minutes: int) -> None:
    d.mkdir()
    daily = ROOT / "data" / "BABA_1d.csv"
    first, others = _script(minutes)
    for k in range(n):
        sym = _sym(k)
        shutil.copy(daily, d / f"{sym}_1d.csv")
        lines = ["timestamp,open,high,low,close,volume"]
        for i, (o, h, lo, c) in enumerate(first if k == 0 else others):
            t = OPEN + timedelta(minutes=i)
            lines.append(f"{t:%Y-%m-%dT%H:%M:%S},{o},{h},{lo},{c},1000")
        (d / f"{sym}_1m_{OPEN:%Y-%m-%d}.csv").write_text("\n".join(lines) + "\n")


def _admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_emulator/{path}", data=data,
                                 method="GET" if body is None else "POST",
                                 headers={**ADMIN, "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _subscribed(url: str, n: int) -> bool:
    conns = _admin(url, "datastream")["connections"]
    return any(c["authenticated"] and len(c.get("bars", [])) == n for c in conns)


def _environment(tmp: Path, rec: _Receiver, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ALPACA_"))}
    env.update(
        BOT_CONFIG=str(tmp / "watch.toml"),
        ALPACA_API_KEY=KEY,
        ALPACA_SECRET_KEY=SECRET,
        BOT_ALPACA__TRADING_URL=url,
        BOT_ALPACA__DATA_URL=url,
        BOT_WATCH__STATE_DIR=str(tmp / "watch"),
        BOT_WATCH__SILENT_S="600",  # no dead-man alert while a minute is awaited
        BOT_PAPER__LOG_DIR=str(tmp / "logs"),
        BOT_ALPACA__MAX_REQUESTS_PER_MINUTE="200",  # the 100 symbols' warm-up
        BOT_ALERTS__RATE_PER_MINUTE="10000",  # no digest
        BOT_ALERT_URLS_DEFAULT=rec.url,
        PYTHONPATH=str(ROOT),
    )
    return env


def _drive(url: str, rec: _Receiver, n: int, minutes: int) -> tuple[dict[str, float], float]:
    """Move the clock a minute at a time, each minute's alerts awaited: when each bar
    (HH:MM) closed, and the median time an advance took (ms)."""
    closed: dict[str, float] = {}
    took: list[float] = []
    for i in range(QUIET + WARM + minutes + TAIL):
        bar = OPEN + timedelta(minutes=i)
        hm = f"{bar:%H:%M}"
        t0 = time.perf_counter()
        _admin(url, "advance", {"until": (bar + timedelta(minutes=1)).isoformat()})
        closed[hm] = time.perf_counter()
        took.append((closed[hm] - t0) * 1000)
        measured = QUIET + WARM <= i < QUIET + WARM + minutes
        due = n if measured else 1 if QUIET <= i < QUIET + WARM else 0
        end = time.perf_counter() + 120
        while rec.per_bar[hm] < due and time.perf_counter() < end:
            time.sleep(0.005)
        time.sleep(0.1)  # anything more (nothing is expected) would come now
    return closed, float(np.median(took))


def _stream_run(n: int, minutes: int, charts: bool) -> StreamRun:
    from bot.emulator import EmulatorServer, EmulatorState, Faults

    began = time.perf_counter()
    rec = _Receiver()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _market(tmp / "market", n, minutes)
        (tmp / "watch.toml").write_text(_config(n))
        said = tmp / "watch.out"
        state = EmulatorState.from_dir(tmp / "market", OPEN.astimezone(UTC), rate_limit_per_min=0)
        with EmulatorServer(state, Faults(), api_key=KEY, secret_key=SECRET) as srv:
            argv = [sys.executable, "-m", "bot", "watch"]
            env = _environment(tmp, rec, srv.url)
            env["BOT_WATCH__CHARTS"] = "true" if charts else "false"
            with said.open("w") as out:
                proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=out,
                                        stderr=subprocess.STDOUT)  # fmt: skip
            try:
                t0 = time.perf_counter()
                while not _subscribed(srv.url, n):
                    if proc.poll() is not None or time.perf_counter() > t0 + 180:
                        raise RuntimeError(f"bot watch never subscribed: {said.read_text()}")
                    time.sleep(0.05)
                start_s = time.perf_counter() - t0
                closed, advance_ms = _drive(srv.url, rec, n, minutes)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                rec.server.shutdown()
            if proc.returncode not in (0, 143):  # 143: ended by the SIGTERM above
                raise RuntimeError(f"bot watch ended with {proc.returncode}: {said.read_text()}")
    warm = f"{OPEN + timedelta(minutes=QUIET):%H:%M}"
    measured = {f"{OPEN + timedelta(minutes=QUIET + WARM + k):%H:%M}" for k in range(minutes)}
    lat, first, charted = [], None, 0
    for alert, t in rec.arrived.items():
        bar = rec.bar_of.get(alert)
        if bar in measured:
            lat.append((t - closed[bar]) * 1000)
            charted += alert in rec.charted
        elif bar == warm:
            first = (t - closed[bar]) * 1000
    return StreamRun(n, minutes, charts, np.array(lat), n * minutes, first, start_s,
                     advance_ms, time.perf_counter() - began, charted)  # fmt: skip


def _percentiles(r: StreamRun, label: str) -> tuple[float, float] | None:
    """p50 and p99 (ms), or None (said) when an alert did not arrive."""
    if len(r.latencies) < r.expected:
        print(f"{label}: only {len(r.latencies)} of the {r.expected} alerts arrived  MISSED")
        return None
    return float(np.percentile(r.latencies, 50)), float(np.percentile(r.latencies, 99))


def _stream_lines(runs: list[StreamRun], ref: float) -> None:
    off = {r.symbols: r for r in runs if not r.charts}
    for r in (r for r in runs if r.charts):
        name = "1 symbol"
        if r.symbols > 1:
            name = f"{r.symbols} symbols streaming, all through their level in the same minute"
        label = f"alert latency via the stream, {name} ({r.expected} alerts, {r.minutes} minutes)"
        got = _percentiles(r, label)
        if got is not None:
            print(f"{label}: p50 {got[0]:.0f} ms, p99 {got[1]:.0f} ms, max "
                  f"{r.latencies.max():.0f} ms, {r.with_chart} of {r.expected} with their chart "
                  f"  (target p99 <= {TARGET_MS:.0f} ms; bare POST {ref:.2f} ms)  "
                  f"{_verdict(got[1])}")  # fmt: skip
        bare = off.get(r.symbols)
        label = "  the same with no chart ([watch] charts = false)"
        got_off = None if bare is None else _percentiles(bare, label)
        if got_off is not None:
            q50, q99 = got_off
            share = ""
            if got is not None:
                share = (f"; the charts add {got[0] - q50:.0f} ms to p50 and "
                         f"{got[1] - q99:.0f} ms to p99")  # fmt: skip
            print(f"{label}: p50 {q50:.0f} ms, p99 {q99:.0f} ms{share}  {_verdict(q99)}")
        first = "none arrived" if r.first_ms is None else f"{r.first_ms:.0f} ms"
        print(f"  the first alert after the start (a warm-up, not counted) {first}; subscribed "
              f"{r.start_s:.1f} s after the start; an advance returned in {r.advance_ms:.1f} ms "
              f"(median); run {r.seconds:.0f} s")  # fmt: skip


# -- in-process, no stream: tiers -> outbox -> receiver ---------------------------------
def _crossing(i: int, sym: str) -> tuple[Bar, Bar]:
    """A bar below the level, then one through it (an alert), for symbol `sym`."""
    below = Bar(T0 + 2 * i * MIN, 95.0, 95.5, 94.5, 95.0, 1000.0, 20482, sym)
    through = Bar(T0 + (2 * i + 1) * MIN, 99.0, 101.0, 98.5, 100.5, 1000.0, 20482, sym)
    return below, through


def _in_process(ref: float) -> None:
    s = load_settings(None)
    cfg = s.alerts.model_copy(update={"rate_per_minute": 10_000})
    rec = _Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.sqlite"
        StateStore(state).close()
        deliverer = Deliverer.open(state, cfg, Channels({"default": rec.url}))
        try:
            # One symbol: a crossing bar every 50 ms; a fresh tracker each time re-arms it.
            sent: dict[str, float] = {}
            for i in range(100):
                tiers = LevelTiers("ONE", {100.0: "level_100"}, TierConfig(approaching=False))
                below, through = _crossing(i, "ONE")
                tiers.on_bar(below)
                t0 = time.perf_counter()  # the bar has closed and is handed to the watcher
                for a in tiers.on_bar(through):
                    made = alert_of(a, None, s.alerts.routes)
                    deliverer.submit(made)
                    sent[made.alert_id] = t0
                time.sleep(0.05)
            rec.wait(len(sent))
            one = np.array(
                [(rec.arrived[k] - t) * 1000 for k, t in sent.items() if k in rec.arrived]
            )
            # 100 symbols, one crossing bar each, at once.
            burst: dict[str, float] = {}
            trackers = {f"S{k:03d}": LevelTiers(f"S{k:03d}", {100.0: "level_100"},
                                                TierConfig(approaching=False))
                        for k in range(100)}  # fmt: skip
            for sym, tiers in trackers.items():
                tiers.on_bar(_crossing(1000, sym)[0])
            t0 = time.perf_counter()
            for sym, tiers in trackers.items():
                for a in tiers.on_bar(_crossing(1000, sym)[1]):
                    made = alert_of(a, None, s.alerts.routes)
                    deliverer.submit(made)
                    burst[made.alert_id] = t0
            rec.wait(len(sent) + len(burst))
            many = np.array(
                [(rec.arrived[k] - t) * 1000 for k, t in burst.items() if k in rec.arrived]
            )
        finally:
            deliverer.close()
            rec.server.shutdown()
    for label, arr, n in (("1 symbol", one, 100), ("100 symbols at once", many, 100)):
        head = f"alert latency, tiers->outbox->receiver, no stream, no chart, {label}"
        if len(arr) < n:
            print(f"{head}: only {len(arr)} of {n} alerts arrived  MISSED")
            continue
        p50, p99 = float(np.percentile(arr, 50)), float(np.percentile(arr, 99))
        print(
            f"{head}: p50 {p50:.1f} ms, p99 {p99:.1f} ms = p99 {p99 / ref:.0f}x a bare POST's "
            f"{ref:.2f} ms   (target p99 <= {TARGET_MS:.0f} ms)  {_verdict(p99)}"
        )


def bench_alert_latency() -> None:
    probe = _Receiver()
    ref = _round_trip_ms(probe)
    probe.server.shutdown()
    runs = [_stream_run(1, 30, True), _stream_run(1, 30, False),
            _stream_run(100, 3, True), _stream_run(100, 3, False)]  # fmt: skip
    _stream_lines(runs, ref)
    _in_process(ref)


if __name__ == "__main__":
    bench_alert_latency()
