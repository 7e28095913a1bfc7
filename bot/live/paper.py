"""Wiring for `bot paper`: choose the broker and the feed, run the runner, report.

- `--broker emulator` (default, offline): replays a CSV through the real alpaca-py SDK
  against our Alpaca-compatible emulator over HTTP on 127.0.0.1: in-process, or a
  running `bot emulator` given with `--emulator-url` (needed to resume after a crash,
  since an in-process emulator's account ends with the process): bot/live/replay.py.
- `--broker alpaca`: the Alpaca paper account with live bars; keys from the
  environment or `.env`. Live trading needs `alpaca.allow_live = true` AND `--live`.
Exit codes: 0 done, 2 bad input/keys/refused for good, 3 another runner holds the
state, 4 the broker state does not match ours (nothing traded), 5 the broker could not
be reached at start, 130/143 interrupted by Ctrl-C/SIGTERM (the state is consistent;
run again to resume). No traceback reaches the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from bot import lifecycle
from bot.alpaca.marketdata import AlpacaMarketData
from bot.alpaca.trading import AlpacaApi, LiveTradingRefused
from bot.broker.sim import BrokerError
from bot.emulator.client import EmulatorClockError
from bot.events.journal import secret_values_of, setup_logging
from bot.live.alerting import alerts_of, watcher_of
from bot.live.feed import AlpacaFeed, FeedRefused, FeedTooShort
from bot.live.reconcile import ReconcileError
from bot.live.replay import open_state, run_replay
from bot.live.retry import BrokerUnavailable, Retrier
from bot.live.runner import PaperRunner, RunSummary
from bot.settings import Settings
from bot.store.lock import RunnerError, private_dir, write_heartbeat
from strategies import build_strategy

LOG = logging.getLogger("bot.paper")


@dataclass
class PaperOptions:
    broker: str = "emulator"
    emulator_url: str | None = None
    data: Path | None = None
    start: str | None = None
    end: str | None = None
    speed: float | None = None
    state_dir: Path | None = None
    fresh: bool = False
    adopt: bool = False
    live: bool = False
    several: bool = False  # every watched symbol on one account (settings: the config's)


def apply_options(settings: Settings, o: PaperOptions) -> Settings:
    s = settings.model_copy(deep=True)
    p = s.paper
    if o.state_dir is not None:
        p.state_dir = str(o.state_dir)
        p.halt_file = str(Path(o.state_dir) / "HALT")
    if o.speed is not None:
        p.speed = o.speed
    if o.start is not None:
        p.replay_from = date.fromisoformat(o.start)
    if o.end is not None:
        p.replay_to = date.fromisoformat(o.end)
    if o.data is not None:
        p.replay_data = str(o.data)
    return s


def run_paper(settings: Settings, opts: PaperOptions, console: Console) -> int:
    if opts.broker not in ("emulator", "alpaca"):
        _error(console, f"--broker must be emulator or alpaca, not {opts.broker!r}")
        return 2
    try:
        s = apply_options(settings, opts)
    except ValueError as exc:
        _error(console, f"bad option: {exc}")
        return 2
    try:
        # The console shows decisions (printed by the runner) and warnings; bot.log gets all.
        setup_logging(
            private_dir(Path(s.paper.log_dir)),
            max_bytes=s.paper.log_max_bytes,
            backups=s.paper.log_backups,
            console_level="WARNING",
            secrets=secret_values_of(s),
        )
    except OSError as exc:
        _error(console, f"cannot write logs to {s.paper.log_dir}: {exc.strerror or exc}")
        return 2
    lifecycle.set_hint(_resume_hint(s, opts))
    try:
        if opts.broker == "alpaca":
            summary = _run_alpaca(s, opts, console)
        else:
            summary = run_replay(s, opts, console)
    except lifecycle.Interrupted as exc:
        lifecycle.told()
        console.print(
            f"\nInterrupted ({exc}): the state in {s.paper.state_dir}/ is consistent. "
            f"{lifecycle.hint()}",
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line: the last line of the output says what to do
        )
        return exc.exit_code
    except RunnerError as exc:
        _error(console, str(exc))
        return exc.code
    except ReconcileError as exc:
        _error(console, f"start-up reconciliation failed: {exc}")
        return 4
    except EmulatorClockError as exc:
        _error(
            console,
            f"{exc}. Resume against the emulator that holds this replay's account, "
            "or start over with --fresh.",
        )
        return 4
    except LiveTradingRefused as exc:
        _error(console, f"live trading refused: {exc}")
        return 2
    except BrokerUnavailable as exc:
        _error(
            console,
            f"cannot reach the broker: {exc}. Nothing was traded. Check the network and "
            "https://status.alpaca.markets, then run the command again.",
        )
        return 5
    except (FeedRefused, FeedTooShort) as exc:
        _error(console, str(exc))
        return 2
    except BrokerError as exc:
        if exc.status == 401 or (exc.status == 403 and "forbidden" in exc.message.lower()):
            _error(
                console,
                f"the broker rejected the API keys (HTTP {exc.status}). Check ALPACA_API_KEY "
                "and ALPACA_SECRET_KEY (paper keys for the paper endpoint).",
            )
            return 2
        _error(console, f"the broker refused a request for good: {exc}")
        return 2
    _print_summary(console, summary, opts)
    return 0


def _error(console: Console, text: str) -> None:
    # markup off: a message may hold brackets ("[paper]") that rich would swallow
    console.print(text, style="red", markup=False, highlight=False, soft_wrap=True)


def _resume_hint(s: Settings, opts: PaperOptions) -> str:
    where = "" if opts.state_dir is None else f" --state-dir {opts.state_dir}"
    if opts.broker == "alpaca":
        return f"Run `bot paper --broker alpaca{where}` again to resume where it stopped."
    if opts.emulator_url:
        return (
            f"Run `bot paper --emulator-url {opts.emulator_url}{where}` again to resume the replay."
        )
    return (
        "An in-process emulator ends with the run: replay again with `bot paper --fresh`, "
        "or use `bot emulator` and --emulator-url to be able to resume."
    )


def _run_alpaca(s: Settings, opts: PaperOptions, console: Console) -> RunSummary:
    if s.alpaca_api_key is None or s.alpaca_secret_key is None:
        raise RunnerError(
            "ALPACA_API_KEY and ALPACA_SECRET_KEY are not set: export them or put them in .env "
            "(see README, 'Switching to Alpaca')"
        )
    key, secret = s.alpaca_api_key.get_secret_value(), s.alpaca_secret_key.get_secret_value()
    api = AlpacaApi(s.alpaca, key, secret, live=opts.live)
    data = AlpacaMarketData(s.alpaca, key, secret, limiter=api.limiter)
    symbols = s.symbols if opts.several else [s.symbol]
    feeds = {sym: _alpaca_feed(s, sym, api, data, opts.several) for sym in symbols}
    runner = PaperRunner(
        s,
        api,
        feeds if opts.several else feeds[s.symbol],
        f"alpaca {api.base_url}",
        adopt=opts.adopt,
        console=console,
        late_sinks=[
            alerts_of(s, console, live=True),
            *watcher_of(s, console, api, (key, secret), symbols),
        ],
    )
    console.print(
        f"Trading {', '.join(symbols)} on {api.base_url} with live daily bars ({s.alpaca.feed} "
        "feed); decisions after each close; Ctrl-C to stop.",
        markup=False,
    )
    return runner.run()


def _alpaca_feed(
    s: Settings, symbol: str, api: AlpacaApi, data: AlpacaMarketData, several: bool
) -> AlpacaFeed:
    """`symbol`'s live daily bars: enough history for its strategy to warm up, from the
    last bar it processed (a restart)."""
    mine = s.for_symbol(symbol) if several else s
    last = None
    store = open_state(Path(s.paper.state_dir), symbol)
    if store is not None:
        last = store.last_bar_ts()
        store.close()
    # What the strategy needs to warm up, plus the ATR of the stops, plus a margin.
    warmup = max(build_strategy(mine.strategy).warmup_bars(), mine.risk.atr_period + 1) + 5
    return AlpacaFeed(
        data,
        api.clock,
        symbol,
        warmup,
        Retrier(s.alpaca.backoff_base_s, s.alpaca.backoff_cap_s),
        settle_s=s.paper.settle_delay_s,
        reread_s=s.paper.reread_s,
        heartbeat=lambda state: write_heartbeat(Path(s.paper.state_dir), state),
        heartbeat_s=s.paper.heartbeat_s,
        resume_from=last,
    )


def _print_summary(console: Console, r: RunSummary, opts: PaperOptions) -> None:
    console.print(
        f"\nDone: {r.bars} bar(s) traded, {r.signals} signal(s), {r.orders} order(s), "
        f"{r.fills} fill(s); "
        + (
            f"position {r.position:g} shares"
            if r.positions is None
            else "positions " + ", ".join(f"{sym} {q:g}" for sym, q in r.positions.items())
        )
        + f", equity {r.equity:,.2f}"
        + (f"; HALTED: {r.halted}" if r.halted else "")
    )
    console.print(
        f"Logs:  {r.log_dir}/bot.log (readable) and {r.log_dir}/events.jsonl "
        "(one JSON event a line)"
    )
    console.print(f"State: {r.state_dir}/state.sqlite   (bot status, bot logs --event signal)")
    if opts.broker == "emulator":
        console.print(
            "To trade your Alpaca paper account: put ALPACA_API_KEY and ALPACA_SECRET_KEY in .env, "
            "then run `bot paper --broker alpaca` (README: 'Switching to Alpaca')."
        )
