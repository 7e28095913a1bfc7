"""The one typed settings tree: TOML file < `.env` < environment (BOT_ prefix).

`Settings` and its sections (`DataConfig`, `RiskConfig`, `BrokerConfig`, `AlpacaConfig`,
`EmulatorConfig`, `PaperConfig`, `AlertsConfig`; the [strategy] table is the registry's
model for its `name`) say what the bot can be told, each value's default and its bounds,
and the precedence of the sources. Reading the file and the environment, and the errors
that name what is wrong, are bot.config_load's.

Every number has a lower and an upper bound (generous, but finite: `inf` and `nan`
are refused), and a TOML boolean is never taken for a number nor a number for a
boolean, which pydantic's lax mode would do (`confirm_closes = true` meaning 1).
Environment variables arrive as text and are still converted.

The alert channels' Apprise URLs (`BOT_ALERT_URLS_<CHANNEL>`) hold tokens: they are no
setting of this tree, never read from TOML, and read by bot.alerts.channels from the
environment or `.env`; this tree only lets them stand in `.env` (`_WithoutAlertUrls`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.alerts.model import CHANNEL_NAME
from bot.alerts.tiers import TierConfig
from bot.config_models import StrictModel, validate_without_mixups
from bot.strategy import StrategyConfig
from bot.watchlist import (
    SYMBOL,
    Level,
    WatchEntry,
    WatchlistError,
    check_watchlist,
    merged_strategy,
    merged_table,
)
from strategies import UnknownStrategy, any_config, config_model_for, default_config

if TYPE_CHECKING:
    StrategyTable = StrategyConfig
else:
    StrategyTable = any_config()  # a Union of the registered models (see _strategy_model)

ENV_PREFIX = "BOT_"  # BOT_RISK__RISK_PCT overrides [risk] risk_pct

# Upper bounds for amounts with no natural ceiling: far above any real account or order
# (a trillion USD, a million shares), but finite, so `inf` or a stray exponent is refused
# before it reaches sizing arithmetic.
MAX_CASH = 1e12
MAX_SHARES = 1_000_000


class DataConfig(StrictModel):
    # Default bar file for `bot signals` / `bot backtest` (relative paths: cwd, then project root).
    path: str = "data/BABA_1d.csv"
    # The market-data store of `bot data` (Parquet; relative paths: the project root).
    store: str = "data/store"
    # Which of the store's bars the commands read: "1d" (daily) or "1m" (minute).
    timeframe: Literal["1d", "1m"] = "1d"
    # Intraday bars outside 09:30-16:00 ET are skipped when true (pre-market volume is tiny
    # and would make every opening bar look like a volume surge).
    regular_hours_only: bool = True


class RiskConfig(StrictModel):
    sizing: Literal["fixed_shares", "fixed_notional", "percent_equity", "risk"] = "percent_equity"
    fixed_shares: int = Field(100, ge=1, le=MAX_SHARES)
    fixed_notional: float = Field(10_000.0, gt=0, le=MAX_CASH)
    percent_equity: float = Field(25.0, gt=0, le=100)
    risk_pct: float = Field(1.0, gt=0, le=20)
    atr_period: int = Field(14, ge=2, le=200)
    atr_multiple: float = Field(2.0, gt=0, le=20)
    max_position_pct: float = Field(50.0, gt=0, le=100)
    stop_loss: bool = False
    trailing_stop: bool = False
    take_profit_pct: float = Field(0.0, ge=0, le=500)
    # Close a position on the strategy's exit signal for it (the same tag): for level
    # strategies, the breakdown of the level that opened it (hence the name).
    exit_on_breakdown: bool = True
    allow_short: bool = False  # open shorts on the strategy's short entries

    @model_validator(mode="after")
    def _risk_needs_stop(self) -> RiskConfig:
        if self.sizing == "risk" and not (self.stop_loss or self.trailing_stop):
            raise ValueError(
                "sizing = 'risk' needs stop_loss or trailing_stop: the risk is the stop distance"
            )
        return self


class PortfolioConfig(StrictModel):
    """Limits of one account shared by several symbols (a watchlist of two or more run
    together): entries past them are refused with the reason (bot/engine/account.py)."""

    max_open_positions: int = Field(10, ge=1, le=1000)
    max_gross_exposure_pct: float = Field(100.0, gt=0, le=1000)
    max_symbol_pct: float = Field(50.0, gt=0, le=1000)


class BrokerConfig(StrictModel):
    initial_cash: float = Field(100_000.0, gt=0, le=MAX_CASH)
    commission_per_share: float = Field(0.0, ge=0, le=1)
    commission_min: float = Field(0.0, ge=0, le=100)
    slippage_bps: float = Field(5.0, ge=0, le=500)
    fill_at: Literal["next_open", "close"] = "next_open"


PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"


class AlpacaConfig(StrictModel):
    trading_url: str = PAPER_TRADING_URL
    data_url: str = "https://data.alpaca.markets"
    # Consolidated (SIP) prices and volumes: the thresholds were tuned on them, and IEX
    # carries a small share of the volume. The free plan serves SIP older than 15 min.
    feed: Literal["iex", "sip", "delayed_sip"] = "sip"
    sip_delay_s: float = Field(900.0, ge=0, le=3600)
    allow_live: bool = False
    connect_timeout_s: float = Field(5.0, gt=0, le=60)
    read_timeout_s: float = Field(15.0, gt=0, le=120)
    max_requests_per_minute: int = Field(120, ge=1, le=200)
    settle_lookups: int = Field(3, ge=1, le=20)
    cancel_wait_s: float = Field(15.0, ge=0, le=300)
    stream: bool = True
    backoff_base_s: float = Field(0.5, gt=0, le=60)
    backoff_cap_s: float = Field(60.0, gt=0, le=600)
    startup_timeout_s: float = Field(25.0, ge=1, le=600)
    time_in_force: Literal["day", "gtc"] = "gtc"


class EmulatorConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str) -> str:
        # The emulator has no TLS and accepts test keys: it must never face a network.
        if host.strip().lower().rstrip(".") == "localhost":
            return host
        try:
            if ipaddress.ip_address(host.strip("[]")).is_loopback:
                return host
        except ValueError:
            pass
        raise ValueError(
            f"{host!r} is not a loopback address; the emulator binds 127.0.0.1, ::1 or "
            "localhost only"
        )

    data_dir: str = "data"
    initial_cash: float = Field(100_000.0, gt=0, le=MAX_CASH)


class PaperConfig(StrictModel):
    state_dir: str = "state"
    log_dir: str = "logs"
    replay_data: str = "data/BABA_1d.csv"
    replay_from: date | None = date(2025, 9, 1)
    replay_to: date | None = date(2026, 2, 20)
    speed: float = Field(0.0, ge=0, le=1e6)  # bars a second; faster is "flat out" (0)
    halt_file: str = "state/HALT"
    cancel_on_halt: bool = True
    flatten_on_halt: bool = False
    max_daily_loss_pct: float = Field(3.0, ge=0, le=100)
    max_orders_per_day: int = Field(10, ge=1, le=1000)
    stale_after_intervals: int = Field(2, ge=1, le=100)
    stale_tolerance_s: float = Field(5.0, ge=0, le=86_400)  # more than a day is no guard
    session: Literal["regular", "extended"] = "regular"
    settle_delay_s: float = Field(1200.0, ge=0, le=6 * 3600)
    reread_s: float = Field(30.0, ge=0, le=3600)
    heartbeat_s: float = Field(15.0, ge=1, le=60)
    # `--broker alpaca` also runs the level watcher of `bot watch` on live minute bars
    # (its alerts; the run's own say `confirmed`). One market-data stream per account.
    watch: bool = True
    log_max_bytes: int = Field(5_000_000, ge=10_000, le=1_000_000_000)
    log_backups: int = Field(3, ge=0, le=100)


class WatchConfig(StrictModel):
    """`bot watch`: live minute bars over Alpaca's market-data WebSocket, alerts only."""

    # The stream's feed: "iex" is real time on every plan; "sip" needs a paid plan (the
    # free plan is refused at authentication). Minute bars caught up over REST come from
    # the same feed, so the tiers and an intraday timeframe never mix two feeds.
    feed: Literal["iex", "sip"] = "iex"
    # The WebSocket's URL; empty: Alpaca's (wss://stream.data.alpaca.markets/v2/<feed>),
    # or ws://<host>/v2/<feed> when alpaca.data_url is a loopback address (the emulator).
    stream_url: str = ""
    # No bar for this long while the market is open: the dead-man alert, and REST polling.
    silent_s: float = Field(120.0, ge=1, le=3600)
    poll_s: float = Field(60.0, ge=0.1, le=3600)  # REST polling period while the stream is silent
    clock_s: float = Field(30.0, gt=0, le=600)  # how often the broker's clock is read
    # Sessions of minute bars an intraday timeframe warms its strategy up on.
    warmup_sessions: int = Field(5, ge=1, le=60)
    state_dir: str = "state/watch"  # its lock, heartbeat and alert outbox
    charts: bool = True  # a PNG of the bars with each level alert
    # How long an alert may wait for its chart (drawn off the bar loop, ~80 ms each): a
    # burst of alerts goes out on time, the charts that could not keep up left out.
    chart_wait_s: float = Field(0.5, ge=0, le=60)


class StudyConfig(StrictModel):
    """`bot study` and the base rates in alerts and `bot signals` (bot/study)."""

    horizons: list[int] = Field(default_factory=lambda: [1, 5, 20], min_length=1, max_length=10)
    # A breakout is false when a close comes back through its level within this many bars.
    false_within: int = Field(5, ge=1, le=250)
    # Fewer events than this: "too few events", never a figure.
    min_events: int = Field(8, ge=2, le=10_000)
    bootstrap: int = Field(2000, ge=100, le=100_000)  # resamples for the 95% intervals
    seed: int = Field(7, ge=0, le=2**32 - 1)  # the bootstrap's seed: the same report on every run
    # The base rate in an alert: "N past cases, M held beyond the level `hold_bars` later".
    hold_bars: int = Field(5, ge=1, le=250)

    @field_validator("horizons")
    @classmethod
    def _positive_sorted(cls, value: list[int]) -> list[int]:
        if any(h < 1 or h > 1000 for h in value) or len(set(value)) != len(value):
            raise ValueError("horizons must be distinct whole numbers of bars from 1 to 1000")
        return sorted(value)


class LevelsConfig(StrictModel):
    """`bot levels suggest`: levels from swing highs and lows, without look-ahead."""

    # A swing high (low) is the highest high (lowest low) of `pivot_bars` bars on each
    # side; it is known only `pivot_bars` bars after it.
    pivot_bars: int = Field(5, ge=1, le=100)
    cluster_pct: float = Field(1.0, gt=0, le=20)  # pivots within this % form one level
    touch_pct: float = Field(0.5, gt=0, le=20)  # a bar whose range comes this near touches it
    min_touches: int = Field(2, ge=1, le=1000)  # fewer touches before the as-of date: left out
    round_numbers: bool = False  # also suggest round numbers near the price
    round_step: float = Field(10.0, gt=0, le=1e6)
    top: int = Field(10, ge=1, le=200)  # levels listed
    lookback_bars: int = Field(504, ge=20, le=100_000)  # bars before the as-of date used


Channel = Annotated[str, Field(pattern=CHANNEL_NAME.pattern)]


class AlertRoutes(StrictModel):
    """The channel of each kind of alert (bot/alerts/model.py ALERT_KINDS, one field each).
    A channel's URLs come from BOT_ALERT_URLS_<CHANNEL>; a channel without any sends to
    the default channel's, and without those the alerts are printed."""

    approaching: Channel = "default"
    crossed: Channel = "default"
    confirmed: Channel = "default"
    failed: Channel = "default"
    retest_held: Channel = "default"
    fill: Channel = "default"
    exit_hit: Channel = "default"
    guard: Channel = "default"
    halt: Channel = "default"
    reconcile: Channel = "default"
    crash: Channel = "default"
    daily_summary: Channel = "default"
    stream_silent: Channel = "default"
    stream_restored: Channel = "default"
    health_failed: Channel = "default"
    health_restored: Channel = "default"


class AlertsConfig(StrictModel):
    # Messages a minute to each URL of a channel (Telegram: about 20 to a group); alerts
    # over it are merged into one digest message.
    rate_per_minute: int = Field(20, ge=1, le=10_000)
    backoff_base_s: float = Field(2.0, gt=0, le=600)
    backoff_cap_s: float = Field(60.0, gt=0, le=3600)
    # An alert not delivered this long after it was made is dropped (stale news).
    expire_after_s: float = Field(3600.0, gt=0, le=7 * 86_400)
    routes: AlertRoutes = AlertRoutes()
    # The level tiers and their distances (bot/alerts/tiers.py); a watchlist symbol may
    # override them (`alerts = { approaching = false }` in its table).
    tiers: TierConfig = TierConfig()


class _WithoutAlertUrls(PydanticBaseSettingsSource):
    """The `.env` source minus the alert channels' URL variables: those are read by
    bot.alerts.channels, and `extra="forbid"` would refuse them as unknown keys."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.inner().items() if not _ALERT_URL_VAR.match(k)}


_ALERT_URL_VAR = re.compile(r"^bot_alert_urls_[a-z0-9_]+$", re.IGNORECASE)


class Settings(BaseSettings):
    """Everything the bot can be told. Sections mirror the tables of config/default.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_assignment=True,
    )

    symbol: str = Field("BABA", min_length=1, max_length=12, pattern=r"^[A-Z][A-Z.]*$")
    mode: Literal["paper"] = "paper"
    # The model is the registry's for `strategy.name` (see _strategy_model); serialized as
    # that model, not as the base.
    strategy: SerializeAsAny[StrategyTable] = Field(default_factory=default_config)
    data: DataConfig = DataConfig()
    risk: RiskConfig = RiskConfig()
    broker: BrokerConfig = BrokerConfig()
    alpaca: AlpacaConfig = AlpacaConfig()
    emulator: EmulatorConfig = EmulatorConfig()
    paper: PaperConfig = PaperConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    alerts: AlertsConfig = AlertsConfig()
    watch: WatchConfig = WatchConfig()
    study: StudyConfig = StudyConfig()
    levels: LevelsConfig = LevelsConfig()
    # Symbols with their own levels and overrides (bot/watchlist.py); empty: `symbol` alone.
    # Declared after [strategy] and [risk]: its check merges over them.
    watchlist: dict[str, WatchEntry] = Field(default_factory=dict)
    # Secrets: only from the environment or .env, never from a TOML file (no field name accepted).
    alpaca_api_key: SecretStr | None = Field(None, validation_alias="ALPACA_API_KEY")
    alpaca_secret_key: SecretStr | None = Field(None, validation_alias="ALPACA_SECRET_KEY")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment must win over it.
        return (env_settings, _WithoutAlertUrls(dotenv_settings), init_settings)

    @field_validator("strategy", mode="wrap")
    @classmethod
    def _strategy_model(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # The registry owns the strategies' config models: the table is validated by the
        # model of the strategy it names (unknown keys for that strategy refused), with
        # the boolean/number check of the other sections (its models are not StrictModels).
        try:
            model = config_model_for(value)
        except UnknownStrategy as exc:
            error = PydanticCustomError("unknown_strategy", str(exc))
            name = value.get("name") if isinstance(value, Mapping) else None
            detail = InitErrorDetails(type=error, loc=("name",), input=name)
            raise ValidationError.from_exception_data("strategy", [detail]) from None
        return validate_without_mixups(model, value, model.model_validate)

    @field_validator("watchlist")
    @classmethod
    def _watchlist_merges(
        cls, value: dict[str, WatchEntry], info: ValidationInfo
    ) -> dict[str, WatchEntry]:
        strategy, risk = info.data.get("strategy"), info.data.get("risk")
        alerts = info.data.get("alerts")
        if strategy is not None and risk is not None and alerts is not None:
            check_watchlist(value, strategy, risk, alerts.tiers)  # else their own errors
        return value

    @model_validator(mode="after")
    def _symbol_in_watchlist(self) -> Settings:
        # With a watchlist, `symbol` names the one single-symbol commands start with: one
        # of the list (left unset: the first), never a stock the list gives no levels.
        if self.watchlist and self.symbol not in self.watchlist:
            if "symbol" in self.model_fields_set:
                why = PydanticCustomError(
                    "watchlist",
                    "{symbol} is not in the watchlist ({listed}): add a "
                    "[watchlist.{symbol}] table with its levels, or set symbol to one of them",
                    {"symbol": self.symbol, "listed": ", ".join(self.watchlist)},
                )
                detail = InitErrorDetails(type=why, loc=("symbol",), input=self.symbol)
                raise ValidationError.from_exception_data("Settings", [detail])
            object.__setattr__(self, "symbol", next(iter(self.watchlist)))
        return self

    @property
    def symbols(self) -> list[str]:
        """The watched symbols, in the config's order."""
        return list(self.watchlist) or [self.symbol]

    def levels_of(self, symbol: str) -> list[Level]:
        """The symbol's levels with their notes (the [strategy] prices without a watchlist)."""
        if symbol in self.watchlist:
            return list(self.watchlist[symbol].levels)
        prices = getattr(self.strategy, "levels", [])
        return [Level(price=p) for p in prices]

    def tiers_of(self, symbol: str) -> TierConfig:
        """The symbol's alert tiers: [alerts.tiers] with its watchlist overrides."""
        entry = self.watchlist.get(symbol.upper())
        if entry is None or not entry.alerts:
            return self.alerts.tiers
        result: TierConfig = merged_table(TierConfig, self.alerts.tiers, entry.alerts)
        return result

    def for_symbol(self, symbol: str) -> Settings:
        """These settings as one symbol sees them: `symbol`, and [strategy] and [risk] with
        its overrides and levels. The watchlist stays, so any symbol can be asked for."""
        symbol = symbol.strip().upper()
        if not SYMBOL.match(symbol):
            raise WatchlistError(f"{symbol!r} is not a stock symbol")
        if not self.watchlist:
            if symbol == self.symbol:
                return self
            return self.model_copy(update={"symbol": symbol})
        entry = self.watchlist.get(symbol)
        if entry is None:
            raise WatchlistError(
                f"{symbol} is not in the watchlist ({', '.join(self.watchlist)}): add a "
                f"[watchlist.{symbol}] table with its levels"
            )
        return self.model_copy(
            update={
                "symbol": symbol,
                "strategy": merged_strategy(self.strategy, entry),
                "risk": merged_table(RiskConfig, self.risk, entry.risk),
            }
        )

    def redacted(self) -> dict[str, Any]:
        """The merged settings as plain data, secrets shown only as set/unset."""
        data = self.model_dump(mode="json")
        for key in ("alpaca_api_key", "alpaca_secret_key"):
            data[key] = "**********" if getattr(self, key) is not None else None
        return data
