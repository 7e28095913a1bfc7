"""`--write-config`: a complete config file with the chosen thresholds.

Every table and key of the settings (the tables of config/default.toml), each with
the comment it has in config/default.toml, the swept keys set to the chosen values
and marked, `data.path` set to the sweep's bar file (so `bot backtest --config F`
trades the same bars), and a comment block at the top saying which sweep file, when,
the objective and the figures. The values are those `load_settings(base_config,
chosen)` gives, and the written file is loaded back and compared before this returns:
`bot backtest --config F` and `bot paper --config F` read exactly these settings.
Secrets are never written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.config_load import DEFAULT_CONFIG, load_settings
from bot.settings import Settings
from bot.sweep.params import Value, nested

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s{2,}#\s?(.*)$")
_TABLE = re.compile(r"^\s*\[([A-Za-z_][A-Za-z0-9_.]*)\]\s*(#.*)?$")
_SECRETS = {"alpaca_api_key", "alpaca_secret_key"}


def chosen_settings(
    base_config: Path, names: Sequence[str], values: Sequence[Value], data_path: Path
) -> Settings:
    """The settings of one combination, through the real loader."""
    over: dict[str, Any] = dict(nested(names, values))
    over["data"] = {"path": str(data_path)}
    return load_settings(base_config, over)


def _comments(template: Path) -> dict[tuple[str, str], str]:
    """(table, key) -> the comment after that key in the template ('' table = top)."""
    out: dict[tuple[str, str], str] = {}
    table = ""
    for line in template.read_text(encoding="utf-8").splitlines():
        t = _TABLE.match(line)
        if t:
            table = t.group(1)
            continue
        m = _LINE.match(line)
        if m:
            out[(table, m.group(1))] = m.group(3).strip()
    return out


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)  # repr keeps 2.0 a float and round-trips every float exactly
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, BaseModel):  # a watchlist level: the keys it sets
        v = v.model_dump(exclude_defaults=True)
    if isinstance(v, Mapping):  # an inline table
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _lines(
    table: str,
    model: BaseModel | Settings,
    comments: Mapping[tuple[str, str], str],
    swept: set[str],
) -> list[str]:
    out: list[str] = []
    for key in type(model).model_fields:
        if key in _SECRETS:
            continue
        value = getattr(model, key)
        if isinstance(value, BaseModel) or key == "watchlist":
            continue  # tables of their own (render)
        comment = comments.get((table, key), "")
        if f"{table}.{key}" in swept:
            comment = f"[swept] {comment}".rstrip()
        if value is None:
            out.append(f"# {key} is not set")
            continue
        text = f"{key} = {toml_value(value)}"
        out.append(f"{text:<31} # {comment}" if comment else text)
    return out


def _table(
    name: str, section: BaseModel, comments: Mapping[tuple[str, str], str], swept: set[str]
) -> list[str]:
    """`[name]` and its keys, then its own tables (`[alerts.routes]`) after them."""
    lines = ["", f"[{name}]", *_lines(name, section, comments, swept)]
    for key in type(section).model_fields:
        sub = getattr(section, key)
        if isinstance(sub, BaseModel):
            lines += _table(f"{name}.{key}", sub, comments, swept)
    return lines


def render(settings: Settings, header: Sequence[str], swept: Sequence[str]) -> str:
    comments = _comments(DEFAULT_CONFIG)
    lines = [f"# {h}" if h else "#" for h in header]
    lines += ["", *_lines("", settings, comments, set(swept))]
    for name in Settings.model_fields:
        section = getattr(settings, name)
        if isinstance(section, BaseModel):
            lines += _table(name, section, comments, set(swept))
    for symbol, entry in settings.watchlist.items():
        lines += ["", f"[watchlist.{symbol}]", f"levels = {toml_value(entry.levels)}"]
        lines += [
            f"{k} = {toml_value(v)}"
            for k, v in (
                ("strategy", entry.strategy),
                ("risk", entry.risk),
                ("alerts", entry.alerts),
            )
            if v
        ]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path, settings: Settings, header: Sequence[str], swept: Sequence[str]
) -> Path:
    """Write the config and check that it loads back to the same settings."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(settings, header, swept), encoding="utf-8")
    back = load_settings(path)
    if back.redacted() != settings.redacted():
        raise RuntimeError(f"{path} does not load back to the chosen settings (a bug)")
    return path
