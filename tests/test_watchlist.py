"""The watchlist config: symbols with their own levels (and where each came from), their
own thresholds over [strategy] and [risk], every problem named by symbol and field, and
`bot config` / `bot signals` showing what each symbol trades on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import ConfigError, load_settings
from bot.watchlist import WatchlistError
from strategies.level_config import LevelBreakoutConfig
from strategies.sma_cross import SmaCrossConfig
from tests.conftest import DAILY_CSV, DEFAULT_TOML

WATCHLIST = """
[watchlist.BABA]
levels = [
  { price = 163.43, source = "resistance named in the 2026-01-12 article", review = 2026-03-31 },
]

[watchlist.AAPL]
levels = [250.0, { price = 280.5, note = "all-time high", review = 2099-01-01 }]
strategy = { confirm_closes = 3, breakout_buffer_pct = 0.5 }
risk = { percent_equity = 10.0 }

[watchlist.MSFT]
levels = []
strategy = { name = "sma_cross", fast = 5, slow = 20 }
"""


def config(tmp_path: Path, extra: str, base: str | None = None) -> Path:
    path = tmp_path / "watch.toml"
    path.write_text((base or DEFAULT_TOML.read_text()) + extra, encoding="utf-8")
    return path


def problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(config(tmp_path, extra))
    return str(exc.value)


def test_each_symbol_merges_its_own_overrides_over_the_tables(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path, WATCHLIST))
    assert s.symbols == ["BABA", "AAPL", "MSFT"]
    aapl = s.for_symbol("AAPL")
    assert aapl.symbol == "AAPL"
    assert isinstance(aapl.strategy, LevelBreakoutConfig)
    # Its own: levels, two thresholds, one risk setting; the rest from the tables.
    assert aapl.strategy.levels == [250.0, 280.5]
    assert aapl.strategy.confirm_closes == 3 and aapl.strategy.breakout_buffer_pct == 0.5
    assert aapl.strategy.volume_multiple == s.strategy.volume_multiple == 1.5
    assert aapl.risk.percent_equity == 10.0 and aapl.risk.sizing == s.risk.sizing
    baba = s.for_symbol("BABA")
    assert baba.strategy == s.strategy and baba.risk == s.risk  # the base file's 163.43
    msft = s.for_symbol("msft")  # any case: symbols are upper-case
    assert isinstance(msft.strategy, SmaCrossConfig)
    assert (msft.strategy.fast, msft.strategy.slow) == (5, 20)
    # The levels keep where they came from.
    (level,) = s.levels_of("BABA")
    assert level.source == "resistance named in the 2026-01-12 article"
    assert [lv.note for lv in s.levels_of("AAPL")] == ["", "all-time high"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (
            "[watchlist.AAPL]\nlevels = [250.0]\nstrategy = { confirm_closes = 0 }\n",
            "watchlist.AAPL.strategy.confirm_closes",
        ),
        (
            "[watchlist.AAPL]\nlevels = [250.0]\nrisk = { percent_equity = true }\n",
            "watchlist.AAPL.risk.percent_equity",
        ),
        (
            '[watchlist.AAPL]\nlevels = [250.0]\nrisk = { sizeing = "risk" }\n',
            "watchlist.AAPL.risk.sizeing",
        ),
        ("[watchlist.AAPL]\nstrategy = { confirm_closes = 2 }\n", "watchlist.AAPL.levels"),
        ("[watchlist.AAPL]\nlevels = [-5.0]\n", "watchlist.AAPL.levels.0.price"),
        (
            "[watchlist.AAPL]\nlevels = [{ price = 250.0, reviw = 2026-01-01 }]\n",
            "watchlist.AAPL.levels.0.reviw",
        ),
        (
            "[watchlist.AAPL]\nlevels = [250.0]\nstrategy = { levels = [1.0] }\n",
            "watchlist.AAPL.strategy.levels",
        ),
        (
            '[watchlist.AAPL]\nlevels = [250.0]\nstrategy = { name = "nope" }\n',
            "watchlist.AAPL.strategy.name",
        ),
        ("[watchlist.aapl]\nlevels = [250.0]\n", "watchlist.aapl"),
    ],
)
def test_a_bad_entry_is_named_by_symbol_and_field(tmp_path: Path, extra: str, named: str) -> None:
    said = problems(tmp_path, extra)
    assert f": {named}: " in said, said


def test_every_problem_of_every_symbol_is_reported_at_once(tmp_path: Path) -> None:
    said = problems(
        tmp_path,
        "[watchlist.AAPL]\nlevels = [250.0]\nstrategy = { confirm_closes = 0 }\n"
        "[watchlist.MSFT]\nlevels = [400.0]\nrisk = { risk_pct = -1.0 }\n",
    )
    assert "watchlist.AAPL.strategy.confirm_closes" in said
    assert "watchlist.MSFT.risk.risk_pct" in said


def test_symbol_must_be_watched_when_it_is_set(tmp_path: Path) -> None:
    base = DEFAULT_TOML.read_text().replace('symbol = "BABA"', 'symbol = "TSLA"', 1)
    assert 'symbol = "TSLA"' in base
    with pytest.raises(ConfigError, match="symbol: TSLA is not in the watchlist"):
        load_settings(config(tmp_path, WATCHLIST, base))
    # Left out, it is the first of the list.
    unset = "\n".join(ln for ln in base.splitlines() if not ln.startswith("symbol ="))
    assert (
        load_settings(config(tmp_path, "\n[watchlist.AAPL]\nlevels = [1.0]\n", unset)).symbol
        == "AAPL"
    )


def test_a_symbol_outside_the_watchlist_is_refused(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path, WATCHLIST))
    with pytest.raises(WatchlistError, match=r"TSLA is not in the watchlist \(BABA, AAPL, MSFT\)"):
        s.for_symbol("TSLA")


def test_the_environment_can_give_the_watchlist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_WATCHLIST", json.dumps({"BABA": {"levels": [150.0]}}))
    s = load_settings(config(tmp_path, ""))
    assert s.for_symbol("BABA").strategy.levels == [150.0]  # type: ignore[attr-defined]


def bot(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_bot_config_shows_each_symbols_merged_tables_and_due_reviews(tmp_path: Path) -> None:
    code, out, err = bot("config", "--config", str(config(tmp_path, WATCHLIST)))
    assert code == 0, err
    body = json.loads(out[out.index("{") :])
    assert body["symbols"]["AAPL"]["strategy"]["confirm_closes"] == 3
    assert body["symbols"]["AAPL"]["strategy"]["levels"] == [250.0, 280.5]
    assert body["symbols"]["AAPL"]["risk"]["percent_equity"] == 10.0
    assert body["symbols"]["MSFT"]["strategy"]["name"] == "sma_cross"
    assert body["symbols"]["BABA"]["strategy"]["confirm_closes"] == 2
    # BABA's review (2026-03-31) is past; AAPL's (2099) is not.
    assert "# review due: BABA level 163.43: review was due 2026-03-31" in out
    assert "AAPL level" not in out.split("{", 1)[0]


def test_bot_signals_runs_the_symbol_asked_for_with_its_own_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AAPL's bars: BABA's real bars under AAPL's name (a file the store imports).
    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    aapl = tmp_path / "AAPL_1d.csv"
    aapl.write_text(DAILY_CSV.read_text())
    cfg = config(tmp_path, WATCHLIST.replace("levels = [250.0, ", "levels = [163.43, "))
    assert bot("data", "import", str(aapl), "--config", str(cfg))[0] == 0
    code, out, err = bot("signals", "--config", str(cfg), "--symbol", "AAPL", "--format", "json")
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    # Independently: the strategy built by hand with AAPL's thresholds, on the same bars.
    from bot.data.load import load_csv
    from bot.engine.scan import scan
    from strategies import build_strategy

    by_hand = LevelBreakoutConfig(levels=[163.43, 280.5], confirm_closes=3, breakout_buffer_pct=0.5)
    bars = load_csv(DAILY_CSV, symbol="AAPL").bars
    want = scan(build_strategy(by_hand), bars, 0, len(bars)).signals
    assert [(g["kind"], g["close"]) for g in got] == [(w.kind, w.close) for w in want]
    assert len(want) > 0
    # ...which differ from BABA's rules on the same bars (the override matters).
    base = scan(build_strategy(load_settings(cfg).strategy), bars, 0, len(bars)).signals
    assert [(w.kind, w.close) for w in base] != [(w.kind, w.close) for w in want]


def test_a_written_config_keeps_the_watchlist(tmp_path: Path) -> None:
    # `bot sweep --write-config` renders the whole settings tree: the watchlist's levels
    # (with their notes) and overrides come back as they were.
    from bot.sweep.configfile import render

    s = load_settings(config(tmp_path, WATCHLIST))
    out = tmp_path / "written.toml"
    out.write_text(render(s, ["test"], []), encoding="utf-8")
    back = load_settings(out)
    assert back.watchlist == s.watchlist
    for sym in s.symbols:
        assert back.for_symbol(sym).strategy == s.for_symbol(sym).strategy


def test_bot_signals_without_symbol_shows_every_watched_symbol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    for sym in ("AAPL", "MSFT"):
        (tmp_path / f"{sym}_1d.csv").write_text(DAILY_CSV.read_text())
    cfg = config(tmp_path, WATCHLIST.replace("levels = [250.0, ", "levels = [163.43, "))
    for sym in ("AAPL", "MSFT"):
        assert bot("data", "import", str(tmp_path / f"{sym}_1d.csv"), "--config", str(cfg))[0] == 0
    code, out, err = bot("signals", "--config", str(cfg), "--format", "json")
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    # Every symbol's signals, in the watchlist's order: BABA's, then AAPL's, then MSFT's.
    order = [g["symbol"] for g in got]
    assert order == sorted(order, key=["BABA", "AAPL", "MSFT"].index)
    assert set(order) == {"BABA", "AAPL", "MSFT"}
    code, out, err = bot("signals", "--config", str(cfg))
    assert code == 0, err
    heads = [
        ln.split(":")[0] for ln in out.splitlines() if ln.startswith(("BABA:", "AAPL:", "MSFT:"))
    ]
    assert heads == ["BABA", "AAPL", "MSFT"]
