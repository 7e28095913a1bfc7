"""A portfolio backtest: one engine per watched symbol over one account (issue 14 item 3).

BABA's real bars and HALF (BABA's at half the price, its own level and thresholds) share
one account. Expectations are computed by hand from the CSV rows and the trade lists,
not from the engine's own curves.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config_load import load_settings
from bot.data.series import BarSeries
from bot.engine.backtest import run_backtest
from bot.engine.multirun import PortfolioResult, run_portfolio
from bot.models import Trade
from bot.settings import Settings
from tests.conftest import DAILY_CSV, DEFAULT_TOML

WATCH = """
[watchlist.BABA]
levels = [163.43]

[watchlist.HALF]
levels = [81.7]
strategy = {{ confirm_closes = 1 }}
{extra}
"""


def settings(tmp_path: Path, extra: str = "", portfolio: str = "") -> Settings:
    path = tmp_path / "watch.toml"
    base = DEFAULT_TOML.read_text()
    if portfolio:
        base = base.replace("[portfolio]\n", f"[portfolio]\n{portfolio}\n", 1)
        # the replaced keys are given again below: keep only the first of each
        seen: set[str] = set()
        lines = []
        for ln in base.splitlines():
            key = ln.split("=")[0].strip() if "=" in ln else None
            if key in {"max_open_positions", "max_gross_exposure_pct", "max_symbol_pct"}:
                if key in seen:
                    continue
                seen.add(key)
            lines.append(ln)
        base = "\n".join(lines) + "\n"
    path.write_text(base + WATCH.format(extra=extra), encoding="utf-8")
    return load_settings(path)


def half(s: BarSeries) -> BarSeries:
    return BarSeries(s.ts, s.open / 2, s.high / 2, s.low / 2, s.close / 2, s.volume,
                     s.session, s.timeframe, "synthetic", "HALF")  # fmt: skip


def run(s: Settings, daily_series: BarSeries) -> PortfolioResult:
    series = {"BABA": daily_series, "HALF": half(daily_series)}
    spans = {sym: (0, len(b)) for sym, b in series.items()}
    return run_portfolio(s, series, spans)


def closes() -> dict[str, float]:
    with DAILY_CSV.open(newline="") as fh:
        return {r["timestamp"][:10]: float(r["close"]) for r in csv.DictReader(fh)}


def test_one_symbol_on_the_shared_account_trades_as_alone(
    tmp_path: Path, daily_series: BarSeries
) -> None:
    # The account of one engine is that engine's: same sizes, same trades as `bot backtest`.
    s = settings(tmp_path)
    only = run_portfolio(s, {"BABA": daily_series}, {"BABA": (0, len(daily_series))})
    alone = run_backtest(s.for_symbol("BABA"), daily_series)
    assert only.results["BABA"].trades == alone.trades
    assert list(only.equity) == pytest.approx(list(alone.equity))


def test_sizing_sees_the_shared_cash_and_the_other_position(
    tmp_path: Path, daily_series: BarSeries
) -> None:
    result = run(settings(tmp_path), daily_series)
    trades = sorted(
        (t for r in result.results.values() for t in r.trades), key=lambda t: t.entry_ts
    )
    baba = [t for t in trades if t.symbol == "BABA"]
    entry = next(t for t in baba if t.entry_time.date().isoformat() == "2024-09-30")
    # Decided at the close of 2024-09-27 (the fill is the next open). By hand: the cash
    # after every trade closed before, plus HALF's open position at that same close
    # (HALF steps after BABA, but every close of a time is marked before anyone decides).
    px = closes()
    signal_day = "2024-09-27"
    realized = sum(t.pnl for t in trades if t.exit_time.date().isoformat() < signal_day)

    def held(t: Trade) -> bool:
        return t.entry_time.date().isoformat() <= signal_day < t.exit_time.date().isoformat()

    half_open = [t for t in trades if t.symbol == "HALF" and held(t)]
    assert len(half_open) == 1, "the test needs HALF holding at BABA's decision"
    h = half_open[0]
    equity = 100_000.0 + realized + h.qty * (px[signal_day] / 2 - h.entry_price)
    # percent_equity 25 of the account's equity, in whole shares, at the signal close.
    want = math.floor(0.25 * equity / px[signal_day])
    assert entry.qty == want
    alone = run_backtest(settings(tmp_path).for_symbol("BABA"), daily_series).trades
    assert [t.qty for t in alone if t.entry_time == entry.entry_time] != [want]  # it differs
    # The account ends flat: its equity is the initial cash plus every trade's P&L.
    assert result.equity[-1] == pytest.approx(100_000.0 + sum(t.pnl for t in trades))


def test_max_open_positions_refuses_the_second_entry_with_the_reason(
    tmp_path: Path, daily_series: BarSeries
) -> None:
    result = run(settings(tmp_path, portfolio="max_open_positions = 1"), daily_series)
    reasons = [r.reason for r in result.results["BABA"].record.rejections]
    # HALF (one confirming close) enters on 2016-08-10's signal; BABA's of 2016-08-11 finds
    # HALF's order pending.
    assert "max_open_positions 1 reached (held or pending: HALF)" in reasons
    first_baba = result.results["BABA"].trades
    assert all(t.entry_time.year != 2016 for t in first_baba)
    # Never two positions at once.
    spans = [(t.entry_ts, t.exit_ts) for r in result.results.values() for t in r.trades]
    spans.sort()
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


def test_max_symbol_pct_refuses_an_entry_above_it(tmp_path: Path, daily_series: BarSeries) -> None:
    result = run(settings(tmp_path, portfolio="max_symbol_pct = 20.0"), daily_series)
    assert all(not r.trades for r in result.results.values())
    reasons = [r.reason for r in result.results["BABA"].record.rejections]
    # 25% of equity asked, 20% allowed: 272 shares at 91.77 of 100,000 is 25.0%.
    assert "BABA would be 25.0% of equity 100,000.00, above max_symbol_pct 20" in reasons


def test_max_gross_exposure_refuses_what_would_pass_it(
    tmp_path: Path, daily_series: BarSeries
) -> None:
    result = run(settings(tmp_path, portfolio="max_gross_exposure_pct = 30.0"), daily_series)
    reasons = [r.reason for r in result.results["BABA"].record.rejections]
    assert any(r.startswith("gross exposure would be") and "above max_gross_exposure_pct 30" in r
               for r in reasons)  # fmt: skip


def test_bot_backtest_runs_the_watchlist_on_one_account(
    tmp_path: Path, daily_series: BarSeries, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("BOT_DATA__STORE", str(store))
    with DAILY_CSV.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    src = tmp_path / "HALF_1d.csv"
    with src.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow(r | {c: repr(float(r[c]) / 2) for c in ("open", "high", "low", "close")})
    cfg = tmp_path / "watch.toml"
    cfg.write_text(DEFAULT_TOML.read_text() + WATCH.format(extra=""), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["data", "import", str(src), "--config", str(cfg)]).exit_code == 0
    out = tmp_path / "run"
    r = runner.invoke(app, ["backtest", "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "By symbol (one account)" in r.stdout
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["symbols"]) == {"BABA", "HALF"}
    with (out / "trades.csv").open(newline="") as fh:
        trades = list(csv.DictReader(fh))
    assert {t["symbol"] for t in trades} == {"BABA", "HALF"}
    final = summary["portfolio"]["final_equity"]
    assert final == pytest.approx(100_000.0 + sum(float(t["pnl"]) for t in trades), abs=0.01)
    # Each symbol's P&L is its trades' (its contribution curve ends flat).
    for sym, m in summary["symbols"].items():
        mine = sum(float(t["pnl"]) for t in trades if t["symbol"] == sym)
        assert m["final_equity"] - m["initial_cash"] == pytest.approx(mine, abs=0.01)
        assert (out / sym / "chart.html").is_file() and (out / sym / "trades.csv").is_file()
    assert (out / "chart.html").is_file()
    with (out / "equity.csv").open(newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    assert float(last["equity"]) == pytest.approx(final, abs=0.01)
    # --symbol runs one symbol alone, as before.
    one = runner.invoke(app, ["backtest", "--config", str(cfg), "--symbol", "BABA",
                              "--out", str(tmp_path / "one")])  # fmt: skip
    assert one.exit_code == 0 and "By symbol" not in one.stdout
