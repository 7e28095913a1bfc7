"""Alert latency (issue 15), printed by `make bench`: from a bar's close to the alert
delivered at a local receiver, through the real pipeline: the level tiers see the bar,
the alert is written to the outbox (SQLite) and sent by the deliverer's thread through
Apprise (`json://`) to an HTTP server on 127.0.0.1.

- one symbol: a bar that crosses a level, every 50 ms, 100 times: p50 and p99;
- 100 symbols: one minute bar for each, all crossing their level at once: the time until
  the last of the 100 alerts arrived (p50 and p99 of their latencies).

The rate limit is lifted for the measurement (it would turn a burst into a digest on
purpose). The reference printed beside each figure is the receiver's own round trip: one
bare HTTP POST from this process, measured in the same run.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from bot.alerts.channels import Channels
from bot.alerts.deliver import Deliverer
from bot.alerts.tiers import LevelTiers, TierConfig
from bot.config_load import load_settings
from bot.models import Bar
from bot.store.state import StateStore
from bot.watch.alerts import alert_of

T0 = 1_769_697_000_000_000_000
MIN = 60_000_000_000


class _Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        got = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.perf_counter()
                msg = str(json.loads(body or b"{}").get("message", ""))
                for line in msg.splitlines():
                    if line.startswith("alert id: "):
                        got[line[10:].strip()] = now
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


def _crossing(i: int, sym: str) -> tuple[Bar, Bar]:
    """A bar below the level, then one through it (an alert), for symbol `sym`."""
    below = Bar(T0 + 2 * i * MIN, 95.0, 95.5, 94.5, 95.0, 1000.0, 20482, sym)
    through = Bar(T0 + (2 * i + 1) * MIN, 99.0, 101.0, 98.5, 100.5, 1000.0, 20482, sym)
    return below, through


def bench_alert_latency() -> None:
    s = load_settings(None)
    cfg = s.alerts.model_copy(update={"rate_per_minute": 10_000})
    rec = _Receiver()
    ref = _round_trip_ms(rec)
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
        if len(arr) < n:
            print(f"alert latency, {label}: only {len(arr)} of {n} alerts arrived  MISSED")
            continue
        p50, p99 = float(np.percentile(arr, 50)), float(np.percentile(arr, 99))
        print(
            f"alert latency, bar close to the local receiver, {label}: p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms = p99 {p99 / ref:.0f}x a bare POST's {ref:.2f} ms   "
            f"(target p99 <= 1000 ms)  " + ("OK" if p99 <= 1000 else "MISSED")
        )
