"""Everything checked before the first combination is scored.

The sweep file, the base config (through `load_settings`), the bar file and date
range, the walk-forward windows, and every combination of the grid: each one is
validated by the config's own models (what `load_settings` runs), and the first
refused one is re-run through `load_settings` itself so the message is the config's,
naming the field. A `BOT_<TABLE>__<KEY>` environment variable on a swept key would
silently win over the sweep's values (the environment beats the file), so it is
refused too. Returns the `SweepJob` the workers need and a fingerprint of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.config_load import ConfigError, load_settings, resolve_data_path, store_path
from bot.data.load import load_csv
from bot.data.series import BarSeries
from bot.data.source import load_bars
from bot.data.store import BarStore
from bot.models import DataError
from bot.settings import ENV_PREFIX, Settings
from bot.sweep.evaluate import SweepJob
from bot.sweep.params import SECTIONS, Grid, make_grid, section_models
from bot.sweep.spec import SweepSpec, load_sweep
from bot.sweep.windows import Plan, make_plan

FORMAT = 1  # bump when stored results stop being comparable


@dataclass(frozen=True)
class Prepared:
    spec: SweepSpec
    base: Settings
    data_path: Path
    series: BarSeries
    plan: Plan
    grid: Grid
    job: SweepJob

    @property
    def fingerprint(self) -> str:
        return self.job.token


def _env_overrides(names: tuple[str, ...], where: str) -> None:
    set_vars = {k.upper() for k in os.environ if k.upper().startswith(ENV_PREFIX)}
    for name in names:
        var = ENV_PREFIX + name.replace(".", "__").upper()
        if var in set_vars:
            raise ConfigError(
                f"{where}: parameters: {name} is swept but the environment variable {var} "
                "would override every value; unset it"
            )


def _span(series: BarSeries, spec: SweepSpec) -> tuple[int, int]:
    where = f"{spec.path}: data"
    try:
        lo = series.index_of(spec.start) if spec.start else 0
        # A date alone means the whole day, as `bot backtest --to` reads it.
        end = spec.end if spec.end is None or len(spec.end) > 10 else f"{spec.end}T23:59:59.999"
        hi = series.index_of(end, side="right") if end else len(series)
    except DataError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if hi <= lo:
        raise ConfigError(
            f"{where}: no bars in {series.source} between {spec.start or 'start'} and "
            f"{spec.end or 'end'}"
        )
    return lo, hi


def _check_combinations(spec: SweepSpec, base: Settings, grid: Grid) -> None:
    sections = {name: getattr(base, name).model_dump() for name in SECTIONS}
    models = section_models(type(base.strategy))
    for index in grid.indices:
        over = grid.overrides(index)
        try:
            for name, values in over.items():
                models[name].model_validate({**sections[name], **values})
        except ValidationError as exc:
            what = ", ".join(
                f"{n} = {v!r}" for n, v in zip(grid.names, grid.combo(index), strict=True)
            )
            try:
                load_settings(spec.base_config, over)
            except ConfigError as err:
                raise ConfigError(
                    f"{spec.path}: parameters: the combination {what} is refused by the config:\n"
                    f"{err}"
                ) from None
            raise ConfigError(f"{spec.path}: parameters: {what}: {exc}") from None


def _fingerprint(series: BarSeries, base: Settings, plan: Plan, grid: Grid) -> str:
    h = hashlib.sha256()
    for col in (series.ts, series.open, series.high, series.low, series.close, series.volume):
        h.update(col.tobytes())
    meta = {
        "format": FORMAT,
        "timeframe": series.timeframe,
        "symbol": base.symbol,
        "sections": {name: getattr(base, name).model_dump(mode="json") for name in SECTIONS},
        "runs": plan.runs,
        "names": grid.names,
        "values": grid.values,
        "indices": grid.indices,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()[:24]


def _as_symbol(base: Settings, spec: SweepSpec) -> Settings:
    """The base config as its symbol sees it (watchlist levels and overrides). A key the
    symbol overrides cannot be swept: the written config's [strategy] value would lose
    to the override, and the figures would not be reproduced."""
    entry = base.watchlist.get(base.symbol)
    if entry is not None:
        own = {f"strategy.{k}" for k in entry.strategy} | {f"risk.{k}" for k in entry.risk}
        clash = sorted(set(spec.names) & own)
        if clash:
            raise ConfigError(
                f"{spec.path}: parameters: {', '.join(clash)} overridden for {base.symbol} in "
                f"[watchlist.{base.symbol}] of {spec.base_config}: remove them from one of the two"
            )
    return base.for_symbol(base.symbol)


def prepare(path: str | Path) -> Prepared:
    """Read and check the sweep file and everything it names; ConfigError on a problem."""
    spec = load_sweep(path)
    base = _as_symbol(load_settings(spec.base_config), spec)
    _env_overrides(spec.names, str(spec.path))
    if spec.data_path is not None:
        data_path = spec.data_path
        loaded = load_csv(data_path, base.data.regular_hours_only, base.symbol)
    elif BarStore(store_path(base.data.store)).has(base.symbol, base.data.timeframe):
        # No file named: the symbol's bars in the store, as every command reads them. The
        # written config keeps the base's data.path (its commands read the store first).
        data_path = resolve_data_path(base.data.path)
        loaded = load_bars(base, base.symbol, None).loaded
    else:
        data_path = resolve_data_path(base.data.path)
        if not data_path.is_file():
            raise ConfigError(
                f"{spec.path}: data.path not set and the base config's data.path {data_path} "
                "does not exist"
            )
        loaded = load_csv(data_path, base.data.regular_hours_only, base.symbol)
    series = loaded.bars
    lo, hi = _span(series, spec)
    try:
        plan = make_plan(lo, hi, spec.walk_forward)
        grid = make_grid(spec.names, spec.values, spec.samples, spec.seed)
    except ConfigError as exc:
        raise ConfigError(f"{spec.path}: {exc}") from None
    _check_combinations(spec, base, grid)
    sections = {name: getattr(base, name).model_dump() for name in SECTIONS}
    fp = _fingerprint(series, base, plan, grid)
    job = SweepJob(series, base.symbol, sections, grid.names, plan.runs, fp)
    return Prepared(spec, base, data_path, series, plan, grid, job)
