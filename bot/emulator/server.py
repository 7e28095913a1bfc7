"""Running the emulator: `EmulatorServer` (uvicorn in a thread, for tests and embedding),
`build_state` from the settings, and `serve` for the `bot emulator` command.

The server binds its socket itself before uvicorn starts, so `port=0` gets a free port
with no race, and `start()` returns once connections are accepted. `stop()` first
releases requests that faults are holding (drop/black hole), so it never waits out
`drop_hold_s`. Listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import uvicorn

from bot.config_load import resolve_data_path
from bot.data.series import BarSeries
from bot.emulator.app import DEFAULT_KEY, DEFAULT_SECRET, create_app
from bot.emulator.faults import Faults
from bot.emulator.state import EmulatorState
from bot.serving import ThreadedServer, bind, listening_socket
from bot.settings import Settings


class EmulatorServer:
    def __init__(
        self,
        state: EmulatorState,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_KEY,
        secret_key: str = DEFAULT_SECRET,
    ) -> None:
        self.state = state
        self.faults = faults or Faults()
        self.host, self.port = host, port
        self._release = threading.Event()
        self.app = create_app(state, self.faults, api_key, secret_key, self._release)
        # A safety net: requests still running 2 s after stop() are cancelled.
        self._server = ThreadedServer(self.app, "emulator", graceful_s=2)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def data_stream_url(self, feed: str = "iex") -> str:
        """The market-data stream's URL, for `StockDataStream(url_override=...)`."""
        return data_stream_url(self.host, self.port, feed)

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._release.clear()
        self._server.start(sock, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._release.set()  # requests held by a fault first, or stop would wait them out
        self._server.stop(timeout)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def data_stream_url(host: str, port: int, feed: str = "iex") -> str:
    """ws://host:port/v2/<feed>: alpaca-py's StockDataStream takes the complete URL as
    `url_override` (its `feed` argument is then ignored; bot/emulator/datastream.py)."""
    return f"ws://{host}:{port}/v2/{feed}"


def build_state(
    settings: Settings,
    now: datetime | None = None,
    series: BarSeries | Mapping[str, BarSeries] | None = None,
) -> EmulatorState:
    """The emulator's state from the [emulator] and [broker] settings; without `now` the
    clock starts 60 sessions before the end of the data (see EmulatorState.from_dir).
    The bars are the files in `emulator.data_dir`, or `series` as `settings.symbol`'s, or
    each symbol's of a mapping (a replay's own bars: EmulatorState.from_series)."""
    emu, broker = settings.emulator, settings.broker
    costs: dict[str, Any] = {
        "initial_cash": emu.initial_cash,
        "slippage_bps": broker.slippage_bps,
        "commission_per_share": broker.commission_per_share,
        "commission_min": broker.commission_min,
    }
    if isinstance(series, BarSeries):
        return EmulatorState.from_series({settings.symbol: series}, now, **costs)
    if series is not None:
        return EmulatorState.from_series(dict(series), now, **costs)
    return EmulatorState.from_dir(resolve_data_path(emu.data_dir), now, **costs)


def serve(
    settings: Settings,
    api_key: str | None = None,
    secret_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Run the emulator in the foreground until Ctrl-C (the `bot emulator` command).

    The port is bound before anything is printed: a port in use is RunnerError (one
    line, exit 2), never a "listening" banner followed by a traceback."""
    host, port = settings.emulator.host, settings.emulator.port
    sock = bind(host, port, " (another `bot emulator`?)")
    try:
        state = build_state(settings, now)
    except BaseException:
        sock.close()
        raise
    app = create_app(state, Faults(), api_key or DEFAULT_KEY, secret_key or DEFAULT_SECRET)
    keys = "the default keys emulator-key / emulator-secret" if api_key is None else "your keys"
    print(
        f"Alpaca emulator on http://{host}:{port} (market-data stream "
        f"{data_stream_url(host, port)}), accepting {keys}; clock at "
        f"{state.now.isoformat()} (move it with POST /_emulator/advance); Ctrl-C stops it.",
        flush=True,
    )
    # uvicorn handles SIGINT itself; the suppress covers a Ctrl-C outside its loop.
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
