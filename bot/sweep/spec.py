"""The sweep file (TOML): what to vary, on which bars, how to score and choose.

```toml
base_config = "config/default.toml"  # default: the bot's config ($BOT_CONFIG or this)
objective = "sharpe"        # sharpe | total_return | profit_factor | return_over_max_drawdown
samples = 200               # optional: a seeded random sample of the grid
seed = 7                    # optional (default 0)
[data]
path = "data/BABA_1d.csv"   # default: the base config's data.path
from = 2016-01-04           # optional; earlier bars only warm the indicators up
to = 2026-02-20             # optional, inclusive
[parameters]                # any numeric key of [strategy], [risk], [broker]
"strategy.confirm_closes" = [1, 2, 3]
"strategy.breakout_buffer_pct" = {start = 0.5, stop = 2.0, step = 0.5}
[constraints]
min_trades = 3              # per window; fewer trades and a set cannot be chosen
max_drawdown_pct = 30       # per window; a deeper drawdown and a set cannot be chosen
[walk_forward]
train_bars = 756
test_bars = 252
step_bars = 252             # default: test_bars
anchored = false
```

Parameters may also be written as nested tables (`[parameters.strategy]`). The
[strategy] keys are those of the strategy the base config names (`strategy.name`), so
the base config is loaded here. Every problem raises ConfigError naming the file and
the key, before any work starts.
Relative paths are taken from the working directory, then the sweep file's folder,
then the project root. Imports no engine code.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.config_load import PROJECT_ROOT, ConfigError, load_settings, read_toml, resolve_config_path
from bot.sweep.metrics import OBJECTIVES
from bot.sweep.params import Models, Value, check_name, expand_values, numeric_keys, section_models
from bot.sweep.windows import WalkForward

TOP_KEYS = (
    "base_config",
    "objective",
    "samples",
    "seed",
    "data",
    "parameters",
    "constraints",
    "walk_forward",
)
TABLE_KEYS = {
    "data": ("path", "from", "to"),
    "constraints": ("min_trades", "max_drawdown_pct"),
    "walk_forward": ("train_bars", "test_bars", "step_bars", "anchored"),
}
WF_DEFAULTS = {"train_bars": 756, "test_bars": 252}


@dataclass(frozen=True)
class SweepSpec:
    path: Path
    base_config: Path
    data_path: Path | None  # None: the base config's data.path
    start: str | None
    end: str | None
    objective: str
    min_trades: int
    max_drawdown_pct: float | None  # a positive limit; None = no limit
    walk_forward: WalkForward
    names: tuple[str, ...]
    values: tuple[tuple[Value, ...], ...]
    samples: int | None
    seed: int


def resolve_path(raw: str, sweep_dir: Path) -> Path:
    p = Path(raw).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for base in (sweep_dir, PROJECT_ROOT):
        if (base / p).exists():
            return base / p
    return p


def _unknown(key: str, allowed: tuple[str, ...], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(allowed)}"
    return ConfigError(f"{where}: unknown key {key}{hint}")


def _table(raw: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {name} must be a table ([{name}])")
    for key in value:
        if key not in TABLE_KEYS[name]:
            raise _unknown(key, TABLE_KEYS[name], f"{where}: {name}")
    return dict(value)


def _int(raw: Mapping[str, Any], key: str, where: str, low: int, default: int | None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}.{key}: must be a whole number (got {value!r})")
    if value < low:
        raise ConfigError(f"{where}.{key}: must be >= {low} (got {value})")
    return value


def _when(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise ConfigError(f"{where}: data.{key}: must be a date like 2020-01-31 (got {value!r})")


def _flatten(params: Mapping[str, Any]) -> dict[str, Any]:
    """`{"strategy": {"confirm_closes": [1]}}` -> `{"strategy.confirm_closes": [1]}` (what
    an unquoted dotted key or a [parameters.strategy] table gives). One level only; a
    table with range keys is a range."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        is_range = isinstance(value, Mapping) and bool({"start", "stop", "step"} & set(value))
        if isinstance(value, Mapping) and not is_range and "." not in key:
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _parameters(
    raw: Mapping[str, Any], where: str, models: Models
) -> tuple[list[str], list[list[Value]]]:
    params = raw.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ConfigError(f"{where}: [parameters] is missing or empty: name what to vary")
    names: list[str] = []
    values: list[list[Value]] = []
    numeric = numeric_keys(models)
    for name, spec in _flatten(params).items():
        check_name(name, f"{where}: parameters", models)
        names.append(name)
        vals = expand_values(spec, f"{where}: parameters.{name}")
        if numeric[name] is int:
            # 2.0 for a count is 2; 1.5 stays and the config refuses it with its own message.
            vals = [int(v) if isinstance(v, float) and v.is_integer() else v for v in vals]
        values.append(vals)
    return names, values


def _walk_forward(raw: Mapping[str, Any], where: str) -> WalkForward:
    wf = _table(raw, "walk_forward", where)
    w = f"{where}: walk_forward"
    train = _int(wf, "train_bars", w, 2, WF_DEFAULTS["train_bars"])
    test = _int(wf, "test_bars", w, 2, WF_DEFAULTS["test_bars"])
    step = _int(wf, "step_bars", w, 1, test)
    anchored = wf.get("anchored", False)
    if not isinstance(anchored, bool):
        raise ConfigError(f"{w}.anchored: must be true or false (got {anchored!r})")
    return WalkForward(train, test, step, anchored)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; ConfigError names the file and the key."""
    path = Path(path)
    raw = read_toml(path)
    where = str(path)
    for key in raw:
        if key not in TOP_KEYS:
            raise _unknown(key, TOP_KEYS, where)
    sweep_dir = path.resolve().parent
    base = raw.get("base_config")
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{where}: base_config must be a file name (got {base!r})")
    base_config = resolve_path(base, sweep_dir) if base else resolve_config_path(None)
    if not base_config.is_file():
        raise ConfigError(f"{where}: base_config: file {base_config} does not exist")
    objective = raw.get("objective", "sharpe")
    if objective not in OBJECTIVES:
        close = difflib.get_close_matches(str(objective), list(OBJECTIVES), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"{where}: objective: {objective!r} is not known; {hint}choose one of "
            + ", ".join(OBJECTIVES)
        )
    data = _table(raw, "data", where)
    data_path = None
    if "path" in data:
        if not isinstance(data["path"], str):
            raise ConfigError(f"{where}: data.path must be a file name (got {data['path']!r})")
        data_path = resolve_path(data["path"], sweep_dir)
        if not data_path.is_file():
            raise ConfigError(f"{where}: data.path: file {data['path']} does not exist")
    cons = _table(raw, "constraints", where)
    limit = cons.get("max_drawdown_pct")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= 100
    ):
        raise ConfigError(
            f"{where}: constraints.max_drawdown_pct: give the deepest drawdown allowed as a "
            f"percentage between 0 and 100, e.g. 25 (got {limit!r})"
        )
    # The swept [strategy] keys are the chosen strategy's: its model, from the base config.
    models = section_models(type(load_settings(base_config).strategy))
    names, values = _parameters(raw, where, models)
    samples = raw.get("samples")
    return SweepSpec(
        path=path,
        base_config=base_config,
        data_path=data_path,
        start=_when(data, "from", where),
        end=_when(data, "to", where),
        objective=str(objective),
        min_trades=_int(cons, "min_trades", f"{where}: constraints", 0, 0),
        max_drawdown_pct=None if limit is None else float(limit),
        walk_forward=_walk_forward(raw, where),
        names=tuple(names),
        values=tuple(tuple(v) for v in values),
        samples=None if samples is None else _int(raw, "samples", where, 1, None),
        seed=_int(raw, "seed", where, 0, 0),
    )
