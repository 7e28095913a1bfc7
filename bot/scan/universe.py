"""The universe file of `bot scan`: stock symbols, one or more a line.

Symbols are separated by whitespace or commas; `#` starts a comment that runs to the end
of the line; blank lines are skipped; lower case is read as upper case (`aapl` is AAPL).
A symbol listed twice is scanned once. Every token that is not a stock symbol is
refused, all of them at once, each with the file and line (`u.txt:3: 'A$B' is not a
stock symbol ...`), before anything is read from the store. Imports nothing that trades.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.models import DataError
from bot.watchlist import SYMBOL

__all__ = ["Universe", "UniverseError", "read_universe"]

_SPLIT = re.compile(r"[\s,]+")
SHOWN = 20  # bad tokens named in the message; the rest are counted


class UniverseError(DataError):
    """A universe file that cannot be scanned; the message names the file and lines."""


@dataclass(frozen=True)
class Universe:
    path: Path
    symbols: tuple[str, ...]  # in the file's order, each once
    repeated: tuple[str, ...] = field(default=())  # listed more than once


def read_universe(path: Path) -> Universe:
    """The symbols of `path`, or UniverseError naming every bad token with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UniverseError(f"{path}: no such universe file") from None
    except UnicodeDecodeError as exc:
        raise UniverseError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UniverseError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    symbols: dict[str, None] = {}  # ordered set
    repeated: dict[str, None] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in _SPLIT.split(line.split("#", 1)[0].strip()):
            if not token:
                continue
            sym = token.upper()
            if not SYMBOL.match(sym):
                bad.append(
                    f"{path}:{number}: {token!r} is not a stock symbol "
                    "(letters, digits, '.' or '-', up to 12, starting with a letter)"
                )
            elif sym in symbols:
                repeated[sym] = None
            else:
                symbols[sym] = None
    if bad:
        more = f"\n  ... and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        raise UniverseError(
            f"{path}: {len(bad)} bad symbol(s):\n  " + "\n  ".join(bad[:SHOWN]) + more
        )
    if not symbols:
        raise UniverseError(f"{path}: no symbols (one or more a line; `#` starts a comment)")
    return Universe(path, tuple(symbols), tuple(repeated))
