"""Swept parameters: which config keys may vary, their value lists, and the grid.

A parameter is a numeric key of the [strategy], [risk] or [broker] table, named with
a dot (`strategy.confirm_closes`); the [strategy] keys are those of the strategy the
base config names (its model in the registry). Values come as a list or as an inclusive range
table `{start, stop, step}`. The grid is the product of the value lists, with the last
parameter varying fastest (as `itertools.product`); a combination is known by its
index in that grid, so a random sample, a resumed run and a Dask run all name the
same combination the same way. Imports no engine code; raises ConfigError.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.config_load import ConfigError
from bot.settings import BrokerConfig, RiskConfig
from strategies import REGISTRY

Value = int | float
SECTIONS = ("strategy", "risk", "broker")
Models = Mapping[str, type[BaseModel]]  # section -> its config model
MAX_RANGE_VALUES = 10_000
MAX_GRID = 200_000  # a larger grid must be sampled (`samples = N`)


def section_models(strategy: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The models of the swept sections, with the chosen strategy's config model."""
    return {"strategy": strategy, "risk": RiskConfig, "broker": BrokerConfig}


def all_keys(models: Models) -> dict[str, str]:
    """Every key of the swept sections -> its type name (for messages)."""
    out: dict[str, str] = {}
    for section, model in models.items():
        for name, field in model.model_fields.items():
            ann = field.annotation
            out[f"{section}.{name}"] = getattr(ann, "__name__", None) or str(ann)
    return out


def numeric_keys(models: Models) -> dict[str, type]:
    """Keys that can be swept: plain int or float fields (bool and text are not numbers)."""
    out: dict[str, type] = {}
    for section, model in models.items():
        for name, field in model.model_fields.items():
            if field.annotation is int or field.annotation is float:
                out[f"{section}.{name}"] = int if field.annotation is int else float
    return out


def check_name(name: str, where: str, models: Models) -> None:
    """Refuse a key that is not sweepable, with a did-you-mean for typos."""
    numeric = numeric_keys(models)
    if name in numeric:
        return
    known = all_keys(models)
    if name in known:
        raise ConfigError(
            f"{where}: {name} is not a numeric key (it is {known[name]}); only numbers can be "
            f"swept: {', '.join(numeric)}"
        )
    close = difflib.get_close_matches(name, list(numeric), n=1, cutoff=0.6)
    if not close and "." not in name:
        # A bare key (`confirm_closes`): suggest it with its table.
        close = [k for k in numeric if k.split(".", 1)[1] == name][:1]
    hint = f"; did you mean {close[0]}?" if close else f"; sweepable keys: {', '.join(numeric)}"
    section, _, key = name.partition(".")
    others = [n for n, e in REGISTRY.items() if key in e.config.model_fields]
    if section == "strategy" and others:
        # A key of another strategy: the base config names the strategy that is swept.
        chosen = models["strategy"].model_fields["name"].default
        hint = (
            f": it is a key of the strategy {others[0]!r}, and the base config's strategy is "
            f"{chosen!r} (its strategy.name)"
        )
    raise ConfigError(f"{where}: unknown parameter {name}{hint}")


def _number(x: object, where: str) -> Value:
    # bool is an int in Python; `true` in a sweep file is a mistake, not 1.
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ConfigError(f"{where}: {x!r} is not a number")
    if isinstance(x, float) and not math.isfinite(x):
        raise ConfigError(f"{where}: {x!r} is not a finite number")
    return x


def expand_range(spec: Mapping[str, Any], where: str) -> list[Value]:
    """`{start, stop, step}` -> values from start up to stop, stop included when it lands
    on the step (to 1e-9 of a step, so 0.1 steps reach 1.0 despite binary rounding)."""
    unknown = sorted(set(spec) - {"start", "stop", "step"})
    if unknown:
        raise ConfigError(f"{where}: a range takes start, stop and step, not {', '.join(unknown)}")
    missing = [k for k in ("start", "stop", "step") if k not in spec]
    if missing:
        raise ConfigError(f"{where}: range is missing {', '.join(missing)}")
    start = _number(spec["start"], f"{where}.start")
    stop = _number(spec["stop"], f"{where}.stop")
    step = _number(spec["step"], f"{where}.step")
    if step <= 0:
        raise ConfigError(f"{where}: step must be > 0 (got {step!r})")
    if stop < start:
        raise ConfigError(f"{where}: empty range: stop {stop!r} is below start {start!r}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise ConfigError(f"{where}: range has {count:,} values (at most {MAX_RANGE_VALUES:,})")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return [int(start + i * step) for i in range(count)]
    # Rounded to 10 decimals: 0.1 + 2 x 0.1 is 0.30000000000000004, a value nobody typed.
    return [round(start + i * step, 10) for i in range(count)]


def expand_values(raw: object, where: str) -> list[Value]:
    """A parameter's values from a list, a range table, or a single number."""
    if isinstance(raw, Mapping):
        values = expand_range(raw, where)
    elif isinstance(raw, list):
        values = [_number(v, f"{where}[{i}]") for i, v in enumerate(raw)]
    else:
        values = [_number(raw, where)]
    if not values:
        raise ConfigError(f"{where}: empty list of values")
    seen: set[float] = set()
    for v in values:
        if v in seen:
            raise ConfigError(f"{where}: value {v!r} is listed twice")
        seen.add(v)
    return values


@dataclass(frozen=True)
class Grid:
    """The parameter names, their values, and which grid indices are evaluated."""

    names: tuple[str, ...]
    values: tuple[tuple[Value, ...], ...]
    indices: tuple[int, ...]  # grid indices evaluated (all, or a seeded sample), ascending

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.values)

    def combo(self, index: int) -> tuple[Value, ...]:
        """The values of grid combination `index` (last parameter fastest)."""
        out: list[Value] = []
        for vals in reversed(self.values):
            index, r = divmod(index, len(vals))
            out.append(vals[r])
        return tuple(reversed(out))

    def overrides(self, index: int) -> dict[str, dict[str, Value]]:
        """The nested override dict `load_settings` takes for one combination."""
        return nested(self.names, self.combo(index))


def nested(names: Sequence[str], values: Sequence[Value]) -> dict[str, dict[str, Value]]:
    out: dict[str, dict[str, Value]] = {}
    for name, value in zip(names, values, strict=True):
        section, key = name.split(".", 1)
        out.setdefault(section, {})[key] = value
    return out


def make_grid(
    names: Sequence[str], values: Sequence[Sequence[Value]], samples: int | None, seed: int
) -> Grid:
    size = math.prod(len(v) for v in values)
    if samples is None or samples >= size:
        if size > MAX_GRID:
            raise ConfigError(
                f"the grid has {size:,} combinations (at most {MAX_GRID:,}); "
                "set samples = N for a seeded random sample"
            )
        indices: Sequence[int] = range(size)
    else:
        indices = sorted(random.Random(seed).sample(range(size), samples))
    return Grid(tuple(names), tuple(tuple(v) for v in values), tuple(indices))
