"""`bot dashboard` in a real browser (issue 17): Playwright for Python drives Debian's
chromium, launched by its executable path (no browser download; `.ci/run` installs the
`chromium` package when it is missing).

Over the state of the bundled replay run to its end (tests/test_dashboard.py
`serve_replay`): the page loads with the watchlist and a plotly chart, every request going
to the dashboard itself; the halt button is refused without the token and works with it;
the red banner says the bot is not running. Over an empty state directory, a replay
started after the page opened shows up live (server-sent events, no reload): later bars
and the two fills. A full-page screenshot is taken each time; with UPDATE_SCREENSHOT=1 it
is also written to docs/dashboard.png (the README's picture).

Without chromium the tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from bot.config_load import load_settings
from bot.dashboard.app import make_app
from bot.dashboard.server import DashboardServer
from bot.live.paper import PaperOptions, apply_options
from bot.report.status import read_status
from tests.test_dashboard import TOKEN, Served, last_close_in_csv, serve_replay
from tests.test_paper_support import DEFAULT_TOML, ROOT, bot_cmd, bot_env

pytestmark = pytest.mark.slow  # real replays in subprocesses, and a browser

WAIT_MS = 30_000  # generous: a loaded CI machine; nothing here asserts a wall-clock time
SCREENSHOT = ROOT / "docs" / "dashboard.png"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        why = "no chromium on PATH or at /usr/bin/chromium (Debian: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI must run the browser tests (.ci/run installs it)")
        pytest.skip(why)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
        found = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield found
        finally:
            found.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_replay(tmp_path_factory.mktemp("browser")) as found:
        yield found


class Opened:
    """A page of the dashboard, with every URL it requested and its console errors."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        expect(self.page.locator("#live-status")).to_have_text("live", timeout=WAIT_MS)


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Any]:
    opened: list[Opened] = []

    def opener(url: str) -> Opened:
        opened.append(Opened(browser, url))
        return opened[-1]

    yield opener
    for o in opened:
        o.context.close()
    for o in opened:
        assert o.errors == [], o.errors  # no JavaScript error on any page


def charts_drawn(page: Page) -> None:
    expect(page.locator("#chart-BABA .main-svg").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#equity-chart .main-svg").first).to_be_visible(timeout=WAIT_MS)


def test_the_page_loads_with_the_watchlist_and_a_chart(served: Served, open_page: Any) -> None:
    o = open_page(served.url + "/")
    page = o.page
    row = page.locator("#watch-BABA")
    expect(row).to_contain_text("163.43", timeout=WAIT_MS)
    close = f"{last_close_in_csv():,.2f}"
    expect(row.locator("td").nth(1)).to_have_text(close)
    expect(row.locator("td").nth(2)).to_have_text("2026-02-20")
    expect(row).to_contain_text("2026-02-05 ")  # the last signal: the February breakdown
    charts_drawn(page)
    # the chart's traces: the candles, the volume, both signals and the two fills
    traces = page.evaluate(
        "Array.from(document.getElementById('chart-BABA').data).map((t) => [t.name, t.x.length])"
    )
    assert sorted(map(tuple, traces))[:1] == [("BABA", 250)]
    assert {"signal up", "signal down", "fill", "volume"} <= {name for name, _ in traces}
    assert dict(map(tuple, traces))["fill"] == 2
    assert page.evaluate("typeof window.Plotly") == "object"
    assert served.url + "/static/plotly.min.js" in o.requests
    # offline: every request of the page went to the dashboard itself
    assert o.requests and all(u.startswith(served.url + "/") for u in o.requests), o.requests


def test_the_halt_button_is_refused_without_the_token_and_works_with_it(
    served: Served, open_page: Any
) -> None:
    page = open_page(served.url + "/").page  # no ?token=: the page asks for it
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.accept("wrong")

    page.on("dialog", answer)
    page.click("#btn-halt")
    msg = page.locator("#control-msg")
    expect(msg).to_have_class("refused", timeout=WAIT_MS)
    expect(msg).to_contain_text("403")
    assert asked == ["prompt"]
    assert read_status(served.settings).halted is None
    expect(page.locator("#banner-halted")).to_be_hidden()

    page = open_page(f"{served.url}/?token={TOKEN}").page
    try:
        page.click("#btn-halt")
        expect(page.locator("#banner-halted")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#banner-halted")).to_contain_text("HALTED")
        expect(page.locator("#control-msg")).not_to_have_class("refused")
        assert read_status(served.settings).halted == "halted from the dashboard"
        assert requests.get(served.url + "/api/summary", timeout=10).json()["halted"]
        page.click("#btn-resume")
        expect(page.locator("#banner-halted")).to_be_hidden(timeout=WAIT_MS)
        expect(page.locator("#control-msg")).to_contain_text("resumed")
        assert read_status(served.settings).halted is None
    finally:  # the other tests of the module see a state that is not halted
        requests.post(served.url + "/api/resume", headers={"X-Dashboard-Token": TOKEN}, timeout=10)


def test_a_clear_banner_says_the_bot_is_not_running(served: Served, open_page: Any) -> None:
    page = open_page(served.url + "/").page
    banner = page.locator("#banner-not-running")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("not running")
    expect(page.locator("#runner")).to_contain_text("not running")
    box = banner.bounding_box()
    assert box is not None and box["y"] < 50  # at the top of the page


def test_a_screenshot_of_the_finished_replay(
    served: Served, open_page: Any, tmp_path: Path
) -> None:
    page = open_page(served.url + "/").page
    expect(page.locator("#watch-BABA")).to_contain_text("163.43", timeout=WAIT_MS)
    expect(page.locator("#events-body tr.event-fill")).to_have_count(2, timeout=WAIT_MS)
    charts_drawn(page)
    page.wait_for_timeout(500)  # plotly's last layout pass (responsive resize)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == VIEWPORT["width"]
    assert len(png) < 600_000, len(png)  # small enough to sit in the repository
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(png)


def test_a_replayed_bar_and_a_fill_appear_live(
    tmp_path: Path, browser: Browser, open_page: Any
) -> None:
    """The page opens on a state directory the bot never ran on; then the replay runs
    (20 bars a second) and the page, never reloaded, shows later bars and both fills."""
    state, logs = tmp_path / "state", tmp_path / "logs"
    settings = load_settings(DEFAULT_TOML).model_copy(deep=True)
    settings.paper.log_dir = str(logs)  # what BOT_PAPER__LOG_DIR gives the run below
    settings = apply_options(settings, PaperOptions(state_dir=state))
    with DashboardServer(make_app(settings, state, TOKEN)) as server:
        page = open_page(server.url + "/").page
        page.evaluate("window.notReloaded = true")
        bar_cell = page.locator("#watch-BABA td").nth(2)
        expect(bar_cell).to_have_text("")  # no bar yet
        run = subprocess.Popen(
            bot_cmd("paper", "--fresh", "--state-dir", state, "--speed", 20),
            cwd=ROOT,
            env=bot_env(logs),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            page.wait_for_function(
                "document.querySelector('#watch-BABA td:nth-child(3)').textContent !== ''",
                timeout=WAIT_MS,
            )
            first = bar_cell.text_content()
            assert first and first < "2026-01-14", first  # seen before the first fill
            page.wait_for_function(
                "document.querySelector('#watch-BABA td:nth-child(3)').textContent > "
                + repr(first),
                timeout=WAIT_MS,
            )
            fills = page.locator("#events-body tr.event-fill")
            expect(fills.first).to_contain_text("buy", timeout=WAIT_MS)
            expect(fills).to_have_count(2, timeout=WAIT_MS)
            expect(bar_cell).to_have_text("2026-02-20", timeout=WAIT_MS)
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        # the chart drew the fills it was sent along the way
        expect(page.locator("#chart-BABA .main-svg").first).to_be_visible(timeout=WAIT_MS)
        names = page.evaluate(
            "Array.from(document.getElementById('chart-BABA').data || []).map((t) => t.name)"
        )
        assert "fill" in names, names
        assert page.evaluate("window.notReloaded") is True
        page.context.close()  # its event stream ends before the server stops
