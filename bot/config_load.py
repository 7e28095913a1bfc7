"""Reading the settings: the TOML file, the environment and `.env`, paths of the project.

`load_settings` reads the TOML file chosen with `--config` (else $BOT_CONFIG, else
config/default.toml), lets `BOT_SECTION__KEY` environment variables override it (the
precedence is the tree's own, bot.settings.Settings), reads the Alpaca keys
(`ALPACA_API_KEY`, `ALPACA_SECRET_KEY`) from the environment or a git-ignored `.env` as
`SecretStr`, and turns every problem (missing file, bad TOML, unknown key, wrong type,
value out of range) into a `ConfigError` that names the file or the variable and the
field. Nothing here talks to a broker; a bad config stops the program before it does
anything. Relative data paths are found from the working folder, then the project root.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError

from bot.events.journal import register_secrets
from bot.settings import ENV_PREFIX, Settings

# This file sits at bot/ top level, as settings.py does: its parent's parent is the project.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.toml"
_SECRET_FIELDS = {"alpaca_api_key", "alpaca_secret_key"}


class ConfigError(Exception):
    """A configuration problem; the message names the file and the field."""


def resolve_config_path(path: str | Path | None) -> Path:
    """The config file to use: the explicit one, $BOT_CONFIG, or config/default.toml."""
    if path is None:
        path = os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG
    return Path(path)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file or raise ConfigError naming it and what is wrong."""
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if not text.strip():
        raise ConfigError(f"config file {path} is empty; start from config/default.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if not data:
        # Like an empty file: most likely a template with every line commented out, which
        # would otherwise run silently on the defaults.
        raise ConfigError(
            f"config file {path} has no settings (only comments); start from config/default.toml"
        )
    return data


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part) for part in loc).upper()


def _env_sources() -> dict[str, str]:
    """Variable name (upper case) -> where it is set: the environment wins over .env."""
    found: dict[str, str] = {}
    env_file = Path(".env")
    if env_file.is_file():
        for name in dotenv_values(env_file):
            found[name.upper()] = f"{env_file} variable {name.upper()}"
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX):
            found[name.upper()] = f"environment variable {name.upper()}"
    return found


def format_validation_error(exc: ValidationError, path: Path, env: Mapping[str, str]) -> str:
    """One line per problem: where it came from (file or env var), the field, why, and the value.

    `env` maps upper-case variable names to a description of where each is set.
    """
    lines = [f"invalid configuration ({len(exc.errors())} problem(s)):"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(part) for part in loc) or "(root)"
        env_name = _env_name(loc[:2]) if loc else ""
        source = env.get(env_name, str(path))
        value = err.get("input")
        secret = bool(loc) and str(loc[0]).lower() in _SECRET_FIELDS
        # An unknown key holding a URL is most likely a misnamed alert channel, whose
        # Apprise URL carries a token: never echoed.
        secret = secret or (err["type"] == "extra_forbidden" and "://" in str(value))
        hidden = err["type"] == "missing" or isinstance(value, dict) or secret
        shown = "" if hidden else f" (got {value!r})"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            if field.lower().startswith("bot_alert"):
                msg += " (alert channels' URLs go in BOT_ALERT_URLS_<CHANNEL>, e.g. _DEFAULT)"
        lines.append(f"  {source}: {field}: {msg}{shown}")
    return "\n".join(lines)


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load and validate the settings; raise ConfigError on any problem.

    `overrides` (nested dicts) are applied on top of the file, below the environment;
    sweeps use it to try thresholds without writing files.
    """
    config_path = resolve_config_path(path)
    data = read_toml(config_path)
    for key in data:
        if key.lower() in _SECRET_FIELDS:
            # Never echo the value: it is a secret that was put in the wrong place.
            raise ConfigError(
                f"{config_path}: {key}: secrets are not read from config files; "
                "set ALPACA_API_KEY / ALPACA_SECRET_KEY in the environment or in .env"
            )
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, config_path, _env_sources())) from None
    # Keys read from .env are secrets too: every log filter and journal redacts them.
    register_secrets(
        s.get_secret_value()
        for s in (settings.alpaca_api_key, settings.alpaca_secret_key)
        if s is not None
    )
    return settings


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_data_path(path: str | Path) -> Path:
    """A data path as given if it exists, else relative to the project root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    candidate = PROJECT_ROOT / p
    return candidate if candidate.exists() else p


def store_path(path: str | Path) -> Path:
    """The market-data store's folder: as given if absolute, else under the project root
    (so `bot data` fills the same store from any working directory)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p
