"""The watchlist: the symbols the bot watches, each with its own levels and, where the
user says so, its own strategy and risk thresholds.

In the config, one table per symbol:

    [watchlist.BABA]
    levels = [{ price = 163.43, source = "resistance named in the 2026-01-12 article",
                review = 2026-03-31 }]
    strategy = { confirm_closes = 3 }      # optional: over the [strategy] table
    risk = { percent_equity = 10.0 }       # optional: over the [risk] table
    alerts = { approaching = false }       # optional: over the [alerts.tiers] table

A level is a price, or a table with where it came from (`source`), a `note` and a
`review` date: a level is an opinion about the market and goes stale, so the bot says
when its review is due. `levels` is required per symbol: a resistance price belongs to
one stock, and inheriting another's ([strategy] levels) would watch a meaningless
price. Everything a symbol does not override comes from the [strategy] and [risk]
tables. Without a [watchlist], the bot watches `symbol` with the [strategy] levels, as
before.

Per-symbol overrides are validated when the config is read, each problem named by its
path (`watchlist.AAPL.strategy.confirm_closes`), so a bad threshold for the fifth symbol
stops the bot before it trades, not when that symbol's first bar arrives.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.config_models import StrictModel, validate_without_mixups
from bot.strategy import StrategyConfig
from strategies import UnknownStrategy, config_model

SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")  # as Alpaca spells US equities
MAX_LEVELS = 100


class WatchlistError(ValueError):
    """A symbol asked for that the watchlist does not hold, and what to do."""


class Level(StrictModel):
    """A price to watch, and why: where it came from, a note, when to look at it again."""

    price: float = Field(gt=0, le=1e7)
    source: str = Field("", max_length=300)
    note: str = Field("", max_length=1000)
    review: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_price(cls, value: Any) -> Any:
        # `levels = [163.43]` is a list of prices: each one a level with no notes.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"price": value}
        return value

    def describe(self) -> str:
        parts = [f"{self.price:g}"]
        if self.source:
            parts.append(self.source)
        if self.note:
            parts.append(self.note)
        if self.review is not None:
            parts.append(f"review {self.review.isoformat()}")
        return "; ".join(parts)


class WatchEntry(StrictModel):
    """One symbol of the watchlist."""

    levels: list[Level] = Field(max_length=MAX_LEVELS)
    strategy: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    alerts: dict[str, Any] = Field(default_factory=dict)  # over [alerts.tiers]


def merged_strategy(base: StrategyConfig, entry: WatchEntry) -> StrategyConfig:
    """The symbol's strategy config: [strategy], its overrides, its levels. A symbol may
    name another strategy; then only its own keys (and that model's defaults) apply."""
    over = dict(entry.strategy)
    if "levels" in over:
        raise _error(("levels",), over["levels"], "give a symbol's levels in its `levels`")
    name = over.get("name", base.name)
    try:
        model = config_model(name)
    except UnknownStrategy as exc:
        raise _error(("name",), name, str(exc)) from None
    data: dict[str, Any] = base.model_dump() if name == base.name else {}
    data.update(over)
    data["name"] = name
    if "levels" in model.model_fields:
        data["levels"] = [lv.price for lv in entry.levels]
    result: StrategyConfig = validate_without_mixups(model, data, model.model_validate)
    return result


def merged_table(model: type[BaseModel], base: BaseModel, over: dict[str, Any]) -> Any:
    """A config table with a symbol's overrides, validated by the table's model."""
    data = base.model_dump()
    data.update(over)
    return model.model_validate(data)


def _error(loc: tuple[str | int, ...], value: Any, why: str) -> ValidationError:
    detail = InitErrorDetails(type=PydanticCustomError("watchlist", why), loc=loc, input=value)
    return ValidationError.from_exception_data("watchlist", [detail])


def check_watchlist(
    entries: dict[str, WatchEntry],
    strategy: StrategyConfig,
    risk: BaseModel,
    tiers: BaseModel | None = None,
) -> None:
    """Every symbol's name and merged tables valid, or one ValidationError with every
    problem at its path under the watchlist (symbol, table, field)."""
    problems: list[InitErrorDetails] = []
    for sym, entry in entries.items():
        if not SYMBOL.match(sym):
            why = "not a stock symbol (capitals, digits, '.' or '-', up to 12)"
            problems.append(
                InitErrorDetails(type=PydanticCustomError("watchlist", why), loc=(sym,), input=sym)
            )
            continue
        checks: list[tuple[str, Any]] = [
            ("strategy", lambda e=entry: merged_strategy(strategy, e)),
            ("risk", lambda e=entry: merged_table(type(risk), risk, e.risk)),
        ]
        if tiers is not None:
            checks.append(("alerts", lambda e=entry: merged_table(type(tiers), tiers, e.alerts)))
        for table, check in checks:
            try:
                check()
            except ValidationError as exc:
                for err in exc.errors():
                    problems.append(
                        InitErrorDetails(
                            type=PydanticCustomError(err["type"], err["msg"]),
                            loc=(sym, table, *err["loc"]),
                            input=err.get("input"),
                        )
                    )
    if problems:
        raise ValidationError.from_exception_data("watchlist", problems)


def due_reviews(entries: dict[str, WatchEntry], today: date) -> list[str]:
    """One line per level whose review date has passed."""
    return [
        f"{sym} level {lv.price:g}: review was due {lv.review.isoformat()}"
        + (f" ({lv.source})" if lv.source else "")
        for sym, entry in entries.items()
        for lv in entry.levels
        if lv.review is not None and lv.review < today
    ]
