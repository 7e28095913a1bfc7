"""`bot dashboard` (issue 17, first slice): the app served by uvicorn on 127.0.0.1 over the
state and journal of a real paper replay, read with plain HTTP (no browser).

The replay is the bundled one (`bot paper --fresh`, 2025-09-01 to 2026-02-20, in a
subprocess), with a watchlist table giving level 163.43 a source and a note. Expected
values come from data/BABA_1d.csv (read with the csv module) and from what README "Paper
trading" says the replay does: the 2026-01-13 breakout bought at the 2026-01-14 open, the
2026-02-05 breakdown sold at the 2026-02-06 open.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.config_load import load_settings
from bot.dashboard.app import TOKEN_HEADER, make_app
from bot.dashboard.server import DashboardServer
from bot.live.paper import PaperOptions, apply_options
from bot.report.status import read_status
from bot.settings import Settings
from tests.test_paper_support import DAILY_CSV, DEFAULT_TOML, bot_env, run_bot

pytestmark = pytest.mark.slow  # the real `bot paper` in a subprocess first

SOURCE = "resistance named in the 2026-01-12 article"
NOTE = "watch the January retest"
TOKEN = "test-token-123"
TIMEOUT = 10.0


@dataclass
class Served:
    url: str
    settings: Settings  # as the dashboard sees them (state_dir and log_dir of the replay)
    logs: Path


@contextmanager
def serve_replay(base: Path) -> Iterator[Served]:
    """The bundled replay run to its end in `base` (`bot paper --fresh`), then served.
    Shared with tests/test_dashboard_browser.py."""
    config = base / "config.toml"
    config.write_text(
        DEFAULT_TOML.read_text(encoding="utf-8")
        + f'\n[watchlist.BABA]\nlevels = [{{ price = 163.43, source = "{SOURCE}", '
        f'note = "{NOTE}" }}]\n',
        encoding="utf-8",
    )
    state, logs = base / "state", base / "logs"
    done = run_bot(
        ["paper", "--fresh", "--state-dir", state], bot_env(logs, BOT_CONFIG=str(config))
    )
    assert done.returncode == 0, done.stderr
    settings = load_settings(config).model_copy(deep=True)
    settings.paper.log_dir = str(logs)
    settings = apply_options(settings, PaperOptions(state_dir=state))
    with DashboardServer(make_app(settings, state, TOKEN)) as server:
        yield Served(server.url, settings, logs)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_replay(tmp_path_factory.mktemp("dashboard")) as found:
        yield found


def get(served: Served, path: str, **params: Any) -> Any:
    resp = requests.get(served.url + path, params=params, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


def last_close_in_csv(until: str = "2026-02-20") -> float:
    with DAILY_CSV.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["timestamp"][:10] <= until]
    return float(rows[-1]["close"])


def test_summary_shows_the_watchlist_levels_signals_and_account(served: Served) -> None:
    s = get(served, "/api/summary")
    assert s["state_found"] and s["error"] is None
    assert s["running"] is False and s["runner"].startswith("not running")  # the replay ended
    (baba,) = s["symbols"]
    assert baba["symbol"] == "BABA"
    (level,) = baba["levels"]
    assert (level["price"], level["source"], level["note"]) == (163.43, SOURCE, NOTE)
    close = last_close_in_csv()
    assert baba["last_close"] == pytest.approx(close)
    assert baba["last_bar_time"].startswith("2026-02-20")
    assert level["distance_pct"] == pytest.approx((close / 163.43 - 1) * 100, abs=1e-3)
    said = [(sig["time"][:10], sig["kind"]) for sig in baba["signals"]]
    assert said == [("2026-01-13", "breakout"), ("2026-02-05", "breakdown")]
    assert baba["position"] == 0 and baba["open_orders"] == []
    account = s["account"]
    assert account["equity"] == pytest.approx(account["initial_cash"] + account["realized"])
    assert s["equity"][-1]["time"].startswith("2026-02-20")
    assert s["equity"][-1]["equity"] == pytest.approx(account["equity"])
    kinds = sorted(a["kind"] for a in s["alerts"])
    assert kinds == ["confirmed", "confirmed", "daily_summary", "fill", "fill"]
    assert {a["status"] for a in s["alerts"]} == {"delivered"}  # printed: no channel set
    assert s["halted"] is None


def test_bars_carry_the_fills_and_signals_for_the_chart(served: Served) -> None:
    chart = get(served, "/api/bars/BABA")
    assert chart["bars"][-1]["t"].startswith("2026-02-20")
    assert chart["bars"][-1]["c"] == pytest.approx(last_close_in_csv())
    fills = [(f["t"][:10], f["side"], f["qty"]) for f in chart["fills"]]
    assert fills == [("2026-01-14", "buy", 149), ("2026-02-06", "sell", 149)]
    assert [sig["kind"] for sig in chart["signals"]] == ["breakout", "breakdown"]
    assert chart["levels"] == [{"price": 163.43, "source": SOURCE}]
    assert requests.get(served.url + "/api/bars/MSFT", timeout=TIMEOUT).status_code == 404


def test_events_filter_by_kind_as_bot_logs_does(served: Served) -> None:
    signals = get(served, "/api/events", event="signal")
    assert [e["kind"] for e in signals] == ["breakout", "breakdown"]
    assert len(get(served, "/api/events", event=["fill", "signal"])) == 4
    assert len(get(served, "/api/events", limit=3)) == 3
    bad = requests.get(served.url + "/api/events", params={"event": "sgnal"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "did you mean signal" in bad.json()["error"]


def test_the_page_and_plotly_are_served_from_the_package(served: Served) -> None:
    from plotly.offline import get_plotlyjs

    page = requests.get(served.url + "/", timeout=TIMEOUT)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/plotly.min.js">' in page.text
    js = requests.get(served.url + "/static/plotly.min.js", timeout=TIMEOUT)
    assert js.status_code == 200 and js.text == get_plotlyjs()
    for name in ("app.js", "style.css"):
        assert requests.get(f"{served.url}/static/{name}", timeout=TIMEOUT).status_code == 200
    assert requests.get(served.url + "/static/x.js", timeout=TIMEOUT).status_code == 404
    static = resources.files("bot.dashboard") / "static"
    for name in ("index.html", "app.js", "style.css"):
        text = (static / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, name  # nothing off this host
        assert "cdn" not in text.lower(), name


def test_halt_and_resume_need_the_token(served: Served) -> None:
    halt, resume = served.url + "/api/halt", served.url + "/api/resume"
    for headers in ({}, {TOKEN_HEADER: "wrong"}):
        resp = requests.post(halt, headers=headers, timeout=TIMEOUT)
        assert resp.status_code == 403, resp.text
        assert read_status(served.settings).halted is None
    ok = requests.post(
        halt, headers={TOKEN_HEADER: TOKEN}, json={"reason": "from the test"}, timeout=TIMEOUT
    )
    assert ok.status_code == 200, ok.text
    assert read_status(served.settings).halted == "from the test"
    assert get(served, "/api/summary")["halted"] == "from the test"
    assert requests.post(resume, timeout=TIMEOUT).status_code == 403
    assert read_status(served.settings).halted == "from the test"
    assert requests.post(resume, headers={TOKEN_HEADER: TOKEN}, timeout=TIMEOUT).status_code == 200
    assert read_status(served.settings).halted is None


def _sse_events(resp: requests.Response, deadline: float) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream until the deadline."""
    kind, data = "", []
    for line in resp.iter_lines(decode_unicode=True):
        if time.monotonic() > deadline:
            return
        if line == "":
            if kind:
                yield kind, "\n".join(data)
            kind, data = "", []
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


def test_the_stream_sends_the_summary_then_new_journal_lines(served: Served) -> None:
    deadline = time.monotonic() + 20  # generous: the stream polls every 0.5 s
    with requests.get(served.url + "/api/stream", stream=True, timeout=TIMEOUT) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(resp, deadline)
        kind, first = next(events)
        assert kind == "summary" and json.loads(first)["symbols"][0]["symbol"] == "BABA"
        line = {"time": "2026-02-20T22:00:00+00:00", "run_id": "x", "event": "error", "m": "t1"}
        with (served.logs / "events.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        # the first journal event after the append is the line (the stream tails from
        # the size at connection, so the replay's own lines are not sent again)
        assert next(json.loads(d) for k, d in events if k == "journal") == line


def test_an_empty_state_directory_is_not_running_and_not_created(tmp_path: Path) -> None:
    settings = load_settings(DEFAULT_TOML).model_copy(deep=True)
    settings.paper.log_dir = str(tmp_path / "logs")
    with DashboardServer(make_app(settings, tmp_path / "state", TOKEN)) as server:
        s = requests.get(server.url + "/api/summary", timeout=TIMEOUT).json()
        assert requests.get(server.url + "/api/events", timeout=TIMEOUT).json() == []
    assert s["running"] is False and s["runner"] == "not running (no heartbeat yet)"
    assert s["state_found"] is False and "has not run here yet" in s["error"]
    assert s["symbols"][0]["levels"][0]["price"] == 163.43
    assert not (tmp_path / "state" / "state.sqlite").exists()


def test_healthz_says_503_with_the_reason_when_the_bot_is_not_running(tmp_path: Path) -> None:
    """/healthz over HTTP: a state directory with no runner (no heartbeat) is unhealthy,
    and the reason names the heartbeat (bot/service/health.py)."""
    from bot.config_load import load_settings

    state = tmp_path / "state"
    state.mkdir()
    with DashboardServer(make_app(load_settings(None), state, "t0ken")) as server:
        r = requests.get(server.url + "/healthz", timeout=TIMEOUT)
    assert r.status_code == 503
    body = r.json()
    assert body["ok"] is False and any("heartbeat" in why for why in body["reasons"]), body
