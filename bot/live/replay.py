"""`bot paper --broker emulator`: a CSV replayed through alpaca-py against the emulator.

One bar source per replay: an in-process emulator is built on the replayed series itself
(`build_state(..., series)`), so orders fill on the very bars the bot decides on; an
external one (`--emulator-url`) fills on its own files, so a replay whose bars differ
from them is refused before anything is sent. The state directory is locked for the
run; `--fresh` deletes the state but keeps a `bot halt` kill switch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi
from bot.data.load import symbol_warning
from bot.data.series import BarSeries
from bot.data.source import load_bars
from bot.emulator.client import EmulatorAdmin
from bot.live import retry
from bot.live.alerting import alerts_of
from bot.live.feeds import ReplayFeed
from bot.live.retry import Retrier
from bot.live.runner import PaperRunner, RunSummary
from bot.models import ns_to_et
from bot.report.views import progress_bar
from bot.settings import Settings
from bot.store.halts import Halt, save_halt, saved_halt
from bot.store.lock import RunnerError, take_lock
from bot.store.state import StateError, StateStore

if TYPE_CHECKING:
    from bot.live.paper import PaperOptions

EMULATOR_KEYS = ("emulator-key", "emulator-secret")
LOG = logging.getLogger("bot.paper")


def emulator_keys(s: Settings) -> tuple[str, str]:
    """The keys `bot emulator` accepts and `bot paper` sends: ALPACA_API_KEY and
    ALPACA_SECRET_KEY when both are set (environment or .env), else the emulator's own."""
    if s.alpaca_api_key is not None and s.alpaca_secret_key is not None:
        return s.alpaca_api_key.get_secret_value(), s.alpaca_secret_key.get_secret_value()
    return EMULATOR_KEYS


def _replay_series(s: Settings, given: Path | None) -> BarSeries:
    # `--data FILE` is read as given; without it the store's bars of the symbol come
    # first, then `paper.replay_data` (bot/data/source.py).
    source = load_bars(s, s.symbol, given, default_csv=s.paper.replay_data)
    loaded, path = source.loaded, source.path
    mismatch = symbol_warning(path, s.symbol) if path is not None else None
    if mismatch:
        LOG.warning(mismatch)  # the console and bot.log
    for rej in loaded.rejected:  # bot.log only (the console shows warnings and decisions)
        LOG.info("rejected bar: %s", rej)
    for note in loaded.notes:
        LOG.info("data note: %s", note)
    series = loaded.bars
    if s.paper.replay_to is not None:
        series = series.slice(
            0, series.index_of(f"{s.paper.replay_to.isoformat()}T23:59:59", "right")
        )
    return series


def run_replay(s: Settings, opts: PaperOptions, console: Console) -> RunSummary:
    state_dir = Path(s.paper.state_dir)
    lock = take_lock(state_dir)  # before touching the state: another runner may own it
    try:
        return _replay_locked(s, opts, console, state_dir)
    finally:
        lock.release()


def _replay_locked(
    s: Settings, opts: PaperOptions, console: Console, state_dir: Path
) -> RunSummary:
    from bot.emulator import EmulatorServer, build_state

    if opts.fresh and state_dir.exists():
        halt = _saved_halt(state_dir)
        for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "heartbeat"):
            (state_dir / name).unlink(missing_ok=True)
        if halt is not None:  # a kill switch outlives a fresh replay: only `bot resume` lifts it
            store = StateStore(state_dir / "state.sqlite")
            save_halt(store, halt)
            store.close()
    # One symbol, or (opts.several) every watched symbol on one account.
    if opts.several:
        replayed = {sym: _replay_series(s.for_symbol(sym), None) for sym in s.symbols}
    else:
        replayed = {s.symbol: _replay_series(s, opts.data)}
    feeds: dict[str, ReplayFeed] = {}
    firsts: dict[str, int] = {}
    starts = []
    for sym, series in replayed.items():
        first = series.index_of(s.paper.replay_from.isoformat()) if s.paper.replay_from else 0
        if first >= len(series):
            raise RunnerError(f"no bars to replay in {series.source} from {s.paper.replay_from}")
        feed = feeds[sym] = ReplayFeed(series)
        # The emulator's clock starts at the close of the last warm-up bar.
        starts.append(feed.bar_end(series.bar(first - 1)) if first else int(series.ts[0]))
        firsts[sym] = first
    start_ns = min(starts)
    resuming = _has_traded(state_dir)
    server = None
    url = opts.emulator_url
    keys = emulator_keys(s)  # the same keys `bot emulator` accepts
    if url is None:
        if resuming:
            raise RunnerError(
                f"{state_dir / 'state.sqlite'} holds an earlier replay, but an in-process "
                "emulator starts empty. Replay again with --fresh, or resume against the "
                "emulator that holds that account: `bot emulator` in another terminal and "
                "--emulator-url."
            )
        state = build_state(s, None, replayed)  # fills on the bars the bot decides on
        state.reset(now_ns=start_ns)
        server = EmulatorServer(state, api_key=keys[0], secret_key=keys[1])
        server.start()
        url = server.url
    admin = EmulatorAdmin(url, keys=keys, retrier=Retrier(s.alpaca.backoff_base_s))
    if opts.emulator_url is not None:
        with retry.budget(s.alpaca.startup_timeout_s):
            for sym, series in replayed.items():
                _check_bars(admin, sym, series, url)
            if not resuming:
                admin.reset(start_ns)  # a new replay: the emulator's account starts over
    try:
        s.alpaca.trading_url = url
        s.alpaca.data_url = url
        # Alpaca's 200/min limit is not the emulator's: a replay runs flat out, while the
        # same client, pointed at Alpaca, keeps to max_requests_per_minute.
        api = AlpacaApi(s.alpaca, *keys, live=False, limiter=RateLimiter(10**9))
        for feed in feeds.values():
            feed.admin = admin
        trading = {sym: len(series) - firsts[sym] for sym, series in replayed.items()}
        runner = PaperRunner(
            s,
            api,
            feeds if opts.several else feeds[s.symbol],
            f"emulator {url}",
            adopt=opts.adopt,
            console=console,
            late_sinks=[alerts_of(s, console, live=False)],
        )
        for sym, series in replayed.items():
            console.print(
                f"Paper replay of {sym} {series.source}: {trading[sym]} bar(s) from "
                f"{s.paper.replay_from} to {s.paper.replay_to} ({firsts[sym]} earlier bar(s) "
                f"warm up), orders through alpaca-py to the Alpaca emulator at {url}"
            )
        if opts.several:
            console.print(f"One account for {', '.join(replayed)}: bars stepped by time")
        total = sum(trading.values())
        with progress_bar(console, total, "replay", min_total=1) as advance:
            return runner.run(progress=advance)
    finally:
        if server is not None:
            server.stop()


def open_state(state_dir: Path, symbol: str = "") -> StateStore | None:
    """The state store of `state_dir` (its rows of `symbol`; "" all), None if none yet."""
    path = state_dir / "state.sqlite"
    if not path.exists():
        return None
    try:
        return StateStore(path, symbol)
    except StateError as exc:
        raise RunnerError(f"{exc}. Move it aside to start fresh, or restore a backup.") from None


def _has_traded(state_dir: Path) -> bool:
    """Whether the state holds a replay to resume (bars, orders or fills), rather than
    nothing or only a halt set by `bot halt` before the first run."""
    store = open_state(state_dir)
    if store is None:
        return False
    try:
        return store.last_bar_ts() is not None or bool(store.orders()) or bool(store.fills())
    finally:
        store.close()


def _saved_halt(state_dir: Path) -> Halt | None:
    """The `bot halt` flag of a state that --fresh is about to delete."""
    try:
        store = open_state(state_dir)
    except RunnerError:
        return None  # a damaged state is what --fresh is for; nothing can be read from it
    if store is None:
        return None
    try:
        return saved_halt(store)
    finally:
        store.close()


def _check_bars(admin: EmulatorAdmin, symbol: str, series: BarSeries, url: str) -> None:
    """Refuse to replay bars that an external emulator does not fill on: it fills from
    its own files, so with another --data the bot would decide on one price and be filled
    at another. Compared bit for bit over the replayed span (`BarSeries.digest`)."""
    first, last = int(series.ts[0]), int(series.ts[-1])
    theirs = admin.fingerprint(symbol, first, last)
    if theirs.get("digest") == series.digest():
        return
    span = f"from {_day(first)} to {_day(last)}"
    if not theirs.get("bars"):
        what = f"has no {symbol} bars {span}"
    elif theirs.get("timeframe") != series.timeframe:
        what = f"fills {symbol} orders on {theirs['timeframe']} bars, not {series.timeframe}"
    elif theirs["bars"] != len(series):
        what = f"has {theirs['bars']} {symbol} bars {span}, {series.source} has {len(series)}"
    else:
        what = f"has other {symbol} bars {span} than {series.source}"
    raise RunnerError(
        f"the emulator at {url} {what}. It fills orders on its own files (its "
        "emulator.data_dir), so the bot would decide on one price and be filled at another. "
        "Replay the emulator's data, start `bot emulator` on a data_dir holding these bars "
        f"as {symbol}_1d.csv or {symbol}_1m_*.csv, or leave out --emulator-url (an "
        "in-process emulator fills on the replayed file)."
    )


def _day(ts: int) -> str:
    return ns_to_et(ts).strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")
