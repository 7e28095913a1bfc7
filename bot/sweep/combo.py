"""A combination's settings: the base [strategy], [risk] and [broker] with its values.

Validated by the same pydantic models `load_settings` uses (so an out-of-range value
fails the same way), but built without `BaseSettings.__init__`, which would read this
process's environment and .env: on a Dask worker they may differ from the caller's,
and the caller has already applied its own (bot.sweep.prepare refuses an environment
variable on a swept key). Imports no engine code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from bot.settings import Settings
from bot.sweep.params import Value, nested, section_models
from strategies import config_model


class HasSections(Protocol):
    """What is needed from a SweepJob (kept structural to avoid an import cycle)."""

    @property
    def symbol(self) -> str: ...

    @property
    def sections(self) -> dict[str, dict[str, Any]]: ...

    @property
    def names(self) -> tuple[str, ...]: ...


class SectionCache:
    """`settings_for` with the validated sections cached: most combinations share their
    [risk] and [broker] (or [strategy]) values with many others."""

    def __init__(self, job: HasSections) -> None:
        self.job = job
        self._cache: dict[tuple[str, str], BaseModel] = {}
        self._base = Settings.model_construct(symbol=job.symbol)
        # The [strategy] model is the registry's for the strategy the base config names.
        self._models = section_models(config_model(job.sections["strategy"]["name"]))

    def settings(self, values: Sequence[Value]) -> Settings:
        over = nested(self.job.names, values)
        update: dict[str, Any] = {}
        for name, model in self._models.items():
            mine = over.get(name, {})
            key = (name, repr(sorted(mine.items())))
            found = self._cache.get(key)
            if found is None:
                if len(self._cache) > 4096:
                    self._cache.clear()  # bounded: a strategy-only grid never repeats one
                found = model.model_validate({**self.job.sections[name], **mine})
                self._cache[key] = found
            update[name] = found
        # A shallow copy: the sections are validated models that nothing mutates.
        return self._base.model_copy(update=update)


def settings_for(job: HasSections, values: Sequence[Value]) -> Settings:
    """One combination's settings, without the cache."""
    return SectionCache(job).settings(values)
