"""`bot data`: the local market-data store (bot/data/store.py) and filling it from Alpaca.

fetch (a span of bars), update (what is missing, and the last sessions again, since
Alpaca revises them), list (coverage and gaps), export (CSV) and import (CSV). Fetch and
update need ALPACA_API_KEY / ALPACA_SECRET_KEY (a paper account's keys do: market data
is per account, not per endpoint); list, export and import work offline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import ConfigOpt, app, read_settings, user_errors
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.data.fetch import Fetcher, FetchReport
    from bot.data.store import BarStore, Coverage

data_app = typer.Typer(
    help="The local market-data store: fetch and update bars from Alpaca, list, export, import.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

TimeframeOpt = Annotated[
    str, typer.Option("--timeframe", "-t", help="Bar length: 1d (daily) or 1m (minute).")
]
GAPS_SHOWN = 5  # missing sessions named in a line; the rest are counted


def store_of(settings: Settings) -> BarStore:
    from bot.config_load import store_path
    from bot.data.store import BarStore

    return BarStore(store_path(settings.data.store))


def _fetcher(settings: Settings) -> Fetcher:
    from bot.alpaca.marketdata import AlpacaMarketData
    from bot.alpaca.trading import AlpacaApi
    from bot.data.fetch import Fetcher
    from bot.store.lock import RunnerError

    if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
        raise RunnerError(
            "ALPACA_API_KEY and ALPACA_SECRET_KEY are not set: export them or put them in "
            ".env (README, 'Switching to Alpaca'); a paper account's keys read market data",
            code=2,
        )
    key = settings.alpaca_api_key.get_secret_value()
    secret = settings.alpaca_secret_key.get_secret_value()
    from bot.live.endpoints import LiveTradingRefused

    try:
        api = AlpacaApi(settings.alpaca, key, secret)
    except LiveTradingRefused as exc:
        raise RunnerError(f"alpaca.trading_url: {exc}", code=2) from None
    market = AlpacaMarketData(settings.alpaca, key, secret, limiter=api.limiter)
    return Fetcher(store_of(settings), market, api, progress=lambda line: print(line))


def _gaps(cov: Coverage) -> str:
    if not cov.missing:
        return "none"
    named = ", ".join(f"{d:%Y-%m-%d}" for d in cov.missing[:GAPS_SHOWN])
    more = f" and {len(cov.missing) - GAPS_SHOWN} more" if len(cov.missing) > GAPS_SHOWN else ""
    return f"{len(cov.missing)} session(s) without bars: {named}{more}"


def _print_report(r: FetchReport) -> None:
    w = r.written
    print(
        f"{r.symbol} {r.timeframe}: {w.added} new bar(s), {w.replaced} revised, "
        f"{w.unchanged} unchanged; {len(r.rejected)} refused"
    )
    for rej in r.rejected:
        print(f"  refused: {rej}", file=sys.stderr)
    if r.coverage is not None:
        c = r.coverage
        print(f"  stored: {c.bars} bar(s), {c.first} .. {c.last}; gaps: {_gaps(c)}")


@data_app.command("fetch")
@user_errors
def fetch(
    symbols: Annotated[list[str], typer.Argument(help="Stock symbols, e.g. AAPL MSFT.")],
    timeframe: TimeframeOpt = "1d",
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD (default: 11 years back, 1m: 30 days)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch bars from Alpaca into the store (bars already there are replaced if revised)."""
    from bot.broker.sim import BrokerError
    from bot.data.fetch import start_of
    from bot.data.timeframe import Timeframe

    settings = read_settings(config)
    tf = Timeframe(timeframe)
    fetcher = _fetcher(settings)
    try:
        names = fetcher.known(symbols)
        now = fetcher.now()
        for sym in names:
            _print_report(fetcher.fetch(sym, tf, start_of(start, tf, now), now))
    except BrokerError as exc:
        print(f"broker error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@data_app.command("update")
@user_errors
def update(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Only these symbols (default: every dataset).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Bring every stored dataset up to now: the missing bars, and the last sessions again."""
    from bot.broker.sim import BrokerError
    from bot.data.store import check_symbol

    settings = read_settings(config)
    store = store_of(settings)
    wanted = {check_symbol(s) for s in symbols or []}
    datasets = [(s, tf) for s, tf in store.datasets() if not wanted or s in wanted]
    if not datasets:
        print(f"nothing to update in {store.root}: fetch first (`bot data fetch SYMBOL`)")
        raise typer.Exit(1)
    fetcher = _fetcher(settings)
    try:
        fetcher.known(sorted({s for s, _ in datasets}))
        for report in fetcher.update(datasets):
            _print_report(report)
    except BrokerError as exc:
        print(f"broker error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@data_app.command("list")
@user_errors
def list_(config: ConfigOpt = None) -> None:
    """What the store holds: bars, span and missing sessions of every dataset."""
    from rich.table import Table

    from bot.report.views import make_console

    store = store_of(read_settings(config))
    datasets = store.datasets()
    if not datasets:
        print(f"the store {store.root} is empty: `bot data fetch SYMBOL` fills it")
        return
    table = Table(title=f"Market data in {store.root}")
    for col in ("symbol", "timeframe", "bars", "first", "last", "files", "gaps"):
        table.add_column(col, justify="right" if col in ("bars", "files") else "left")
    for sym, tf in datasets:
        c = store.coverage(sym, tf)
        table.add_row(
            sym, str(tf), f"{c.bars:,}", str(c.first), str(c.last), str(c.files), _gaps(c)
        )
    make_console().print(table)


@data_app.command("export")
@user_errors
def export(
    symbol: Annotated[str, typer.Argument(help="Stock symbol.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    timeframe: TimeframeOpt = "1d",
    config: ConfigOpt = None,
) -> None:
    """Write a dataset as CSV (timestamp,open,high,low,close,volume), readable by --data."""
    from bot.data.export import write_csv

    bars = store_of(read_settings(config)).read(symbol, timeframe)
    write_csv(bars, out)
    print(f"{len(bars)} bar(s) of {bars.symbol} {bars.timeframe} -> {out}")


@data_app.command("import")
@user_errors
def import_(
    path: Annotated[Path, typer.Argument(help="CSV bar file (the format --data reads).")],
    symbol: Annotated[
        str | None,
        typer.Option(help="Whose bars (default: from the file name, e.g. AAPL_1d.csv)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Read a CSV bar file into the store, with the checks every bar file gets."""
    from bot.data.load import load_csv, symbol_in_name
    from bot.models import DataError

    settings = read_settings(config)
    sym = symbol or symbol_in_name(path)
    if not sym:
        raise DataError(f"{path}: say whose bars these are with --symbol (no symbol in the name)")
    loaded = load_csv(path, regular_hours_only=False, symbol=sym.upper())
    for rej in loaded.rejected:
        print(f"  refused: {rej}", file=sys.stderr)
    for note in loaded.notes:
        print(f"  note: {note}", file=sys.stderr)
    store = store_of(settings)
    w = store.write(loaded.bars)
    c = store.coverage(sym, loaded.bars.timeframe)
    print(
        f"{c.symbol} {c.timeframe}: {w.added} new bar(s), {w.replaced} revised, "
        f"{w.unchanged} unchanged; {len(loaded.rejected)} refused"
    )
    print(f"  stored: {c.bars} bar(s), {c.first} .. {c.last}; gaps: {_gaps(c)}")
