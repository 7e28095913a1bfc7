"""config/default.toml documents the code: every setting, the code's default value, a comment.

The field list comes from walking `Settings.model_fields` recursively, so a field added
to the code without a line in default.toml (or with a different value) fails here.
"""

from __future__ import annotations

import re
import tomllib
import typing
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from bot.config_load import DEFAULT_CONFIG, load_settings
from bot.settings import Settings
from tests.conftest import SHIPPED_TOML as DEFAULT_TOML

KEY_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
TABLE_LINE = re.compile(r"^\s*\[([A-Za-z_][A-Za-z0-9_.]*)\]\s*(#.*)?$")


def is_secret(field: Any) -> bool:
    ann = field.annotation
    return ann is SecretStr or SecretStr in typing.get_args(ann)


# The watchlist is the user's list of stocks, not a setting with a code default: its
# shipped entry is checked on its own (test_the_shipped_watchlist_is_babas_level).
USER_TABLES = {"watchlist"}


def code_defaults(model: type[BaseModel], instance: BaseModel | None = None) -> dict[str, Any]:
    """Dotted key -> default value; nested models are walked (their default instance)."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if is_secret(field) or (model is Settings and name in USER_TABLES):
            continue
        if instance is not None:
            value = getattr(instance, name)
        else:
            value = field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            for key, sub in code_defaults(type(value), value).items():
                out[f"{name}.{key}"] = sub
        else:
            out[name] = value
    return out


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def toml_values() -> dict[str, Any]:
    with DEFAULT_TOML.open("rb") as fh:
        table = tomllib.load(fh)
    return flatten({k: v for k, v in table.items() if k not in USER_TABLES})


def _setting_lines() -> list[tuple[int, str]]:
    """(line number, line) of the key lines outside the user's tables."""
    out, table = [], ""
    for i, ln in enumerate(DEFAULT_TOML.read_text(encoding="utf-8").splitlines(), start=1):
        t = TABLE_LINE.match(ln)
        if t:
            table = t.group(1).split(".")[0]
        elif KEY_LINE.match(ln) and table not in USER_TABLES:
            out.append((i, ln))
    return out


def test_default_config_path_is_the_bundled_file():
    assert DEFAULT_CONFIG.resolve() == DEFAULT_TOML.resolve()


def test_walker_sees_the_nested_tables():
    keys = code_defaults(Settings)
    assert "strategy.confirm_closes" in keys and "data.path" in keys and "symbol" in keys
    # the secret fields are excluded; the [alpaca] table of non-secret settings is not
    assert not any(k.startswith("alpaca_") for k in keys)
    assert "alpaca.trading_url" in keys


def test_every_setting_is_in_default_toml(toml_values):
    missing = sorted(set(code_defaults(Settings)) - set(toml_values))
    assert missing == [], f"settings without a line in default.toml: {missing}"


def test_default_toml_has_no_unknown_keys(toml_values):
    extra = sorted(set(toml_values) - set(code_defaults(Settings)))
    assert extra == [], f"keys in default.toml that are not settings: {extra}"


def test_default_toml_values_equal_code_defaults(toml_values):
    defaults = code_defaults(Settings)
    wrong = {
        key: (toml_values[key], value)
        for key, value in defaults.items()
        if key in toml_values
        and (toml_values[key] != value or type(toml_values[key]) is not type(value))
    }
    assert wrong == {}, f"default.toml value vs code default: {wrong}"


def test_default_toml_loads_to_the_code_defaults(in_tmp_dir):
    loaded = load_settings(DEFAULT_TOML)
    for name, default in code_defaults(Settings).items():
        obj: Any = loaded
        for part in name.split("."):
            obj = getattr(obj, part)
        assert obj == default, name
    assert loaded.alpaca_api_key is None and loaded.alpaca_secret_key is None


def test_every_key_line_has_a_comment():
    key_lines = _setting_lines()
    assert len(key_lines) == len(code_defaults(Settings))
    bare = []
    for i, line in key_lines:
        # a '#' that starts a comment: the text before it is a complete `key = value`
        ok = False
        for pos in [m.start() for m in re.finditer("#", line)]:
            try:
                tomllib.loads(line[:pos])
            except tomllib.TOMLDecodeError:
                continue
            ok = bool(line[pos + 1 :].strip())
            break
        if not ok:
            bare.append(f"line {i}: {line}")
    assert bare == [], "key lines without a comment:\n" + "\n".join(bare)


def test_no_secret_in_default_toml(toml_values):
    assert not any(
        "secret" in key.lower() or key.lower().startswith("alpaca_") or "api_key" in key.lower()
        for key in toml_values
    )


def test_the_shipped_watchlist_is_babas_level(in_tmp_dir):
    shipped = load_settings(DEFAULT_TOML)
    assert shipped.symbols == ["BABA"]
    (level,) = shipped.levels_of("BABA")
    assert level.price == 163.43 and "2026-01-12 article" in level.source
    assert level.review is not None and level.review.isoformat() == "2026-03-31"
    # BABA watched through the watchlist trades on exactly what the [strategy] table says
    # (the same level), so the shipped behaviour is the one before the watchlist.
    assert shipped.for_symbol("BABA").strategy == shipped.strategy
    assert shipped.for_symbol("BABA").risk == shipped.risk
