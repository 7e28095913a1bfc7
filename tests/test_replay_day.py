"""`bot replay DATE`: a day minute by minute through the level watcher, alerts only.

The day is 2026-01-12, when BABA crossed $163.43 intraday (the real daily bar: open 157.47,
high 167.69, close 166.31). Its minutes are scripted: a straight walk from the open up to
the high at minute 200, then down to the close. By hand, with the level 163.43 and the
default tiers (approach within 1%):
- minute i closes at 157.47 + 0.0511 i on the way up;
- approaching: the first close >= 163.43 x 0.99 = 161.7957 is minute 85 (161.8135);
- crossed (provisional): the first high >= 163.43 is minute 117 (163.4487), which closes
  above it; nothing after it comes back below;
- confirmed: not on this day (two closes above 165.06 are needed; this is the first).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.data.series import BarSeries
from bot.data.store import BarStore
from bot.models import session_day

OPEN_NS = 1_768_228_200_000_000_000  # 2026-01-12 09:30 ET (14:30 UTC)


def scripted_day() -> BarSeries:
    i = np.arange(390)
    up = 157.47 + (167.69 - 157.47) * i / 200
    down = 167.69 + (166.31 - 167.69) * (i - 200) / 189
    close = np.where(i <= 200, up, down)
    open_ = np.concatenate(([157.47], close[:-1]))
    high, low = np.maximum(open_, close), np.minimum(open_, close)
    ts = OPEN_NS + i.astype("int64") * 60_000_000_000
    session = np.full(390, session_day(date(2026, 1, 12)), "int64")
    vol = np.full(390, 90_715.0)
    return BarSeries(ts, open_, high, low, close, vol, session, "1m", "scripted", "BABA")


def test_the_intraday_cross_is_told_at_once_and_labelled_provisional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    monkeypatch.setenv("BOT_PAPER__STATE_DIR", str(tmp_path / "state"))
    BarStore(tmp_path / "store").write(scripted_day())
    result = CliRunner().invoke(app, ["replay", "2026-01-12"])
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    titles = [ln for ln in out.splitlines() if ln.startswith("ALERT  ")]
    assert titles == [
        "ALERT  BABA is approaching 163.43",
        "ALERT  BABA crossed up through 163.43 (provisional)",
    ], out
    assert "2026-01-12 10:55 ET: close 161.81 within 1% of 163.43" in out  # minute 85
    assert "2026-01-12 11:27 ET: high 163.45 through 163.43 intraday" in out  # minute 117
    assert "Provisional: one bar through the level" in out
    assert "2 alert(s) for 2026-01-12" in out


def test_the_offline_default_day_replays_without_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_PAPER__STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["replay"])
    assert result.exit_code == 0, result.stdout + result.stderr
    # BABA stayed 6-10% above 163.43 that morning: nothing near a level.
    assert "0 alert(s) for 2026-01-29: nothing came near a level" in result.stdout


def test_a_day_without_minute_bars_says_what_to_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    monkeypatch.setenv("BOT_PAPER__STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["replay", "2026-01-13"])
    assert result.exit_code == 2
    assert "bot data fetch BABA --timeframe 1m --from 2026-01-13" in result.stderr


def test_a_symbol_turns_a_tier_off_in_its_watchlist_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import DEFAULT_TOML

    monkeypatch.setenv("BOT_DATA__STORE", str(tmp_path / "store"))
    monkeypatch.setenv("BOT_PAPER__STATE_DIR", str(tmp_path / "state"))
    BarStore(tmp_path / "store").write(scripted_day())
    cfg = tmp_path / "watch.toml"
    table = "\n[watchlist.BABA]\nlevels = [163.43]\nalerts = { approaching = false }\n"
    cfg.write_text(DEFAULT_TOML.read_text() + table, encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", "2026-01-12", "--config", str(cfg)])
    assert result.exit_code == 0, result.stdout + result.stderr
    titles = [ln for ln in result.stdout.splitlines() if ln.startswith("ALERT  ")]
    assert titles == ["ALERT  BABA crossed up through 163.43 (provisional)"]
    # A bad value is named by symbol and field before anything runs.
    bad = table.replace("approaching = false", "approach_pct = -1.0")
    cfg.write_text(DEFAULT_TOML.read_text() + bad, encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", "2026-01-12", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "watchlist.BABA.alerts.approach_pct" in result.stderr


def test_a_symbol_chooses_its_confirmation_timeframe_and_a_bad_one_is_named(
    tmp_path: Path,
) -> None:
    """`alerts = { timeframe = "15m" }` in a watchlist table: that symbol confirms on 15m
    bars, the others on [alerts.tiers] timeframe (1d as shipped); 7m is no choice."""
    from bot.config_load import ConfigError, load_settings
    from tests.conftest import DEFAULT_TOML

    cfg = tmp_path / "watch.toml"
    tables = ("\n[watchlist.BABA]\nlevels = [163.43]\nalerts = { timeframe = \"15m\" }\n"
              "\n[watchlist.AAPL]\nlevels = [250.0]\n")  # fmt: skip
    cfg.write_text(DEFAULT_TOML.read_text() + tables, encoding="utf-8")
    s = load_settings(cfg)
    assert (s.tiers_of("BABA").timeframe, s.tiers_of("AAPL").timeframe) == ("15m", "1d")
    cfg.write_text(DEFAULT_TOML.read_text() + tables.replace('"15m"', '"7m"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"watchlist\.BABA\.alerts\.timeframe"):
        load_settings(cfg)
