"""The local market-data store: Parquet files, one dataset per symbol and timeframe.

Layout: `<root>/<SYMBOL>/<timeframe>/<year>.parquet`, one file per calendar year of
sessions, so an update that touches the last days rewrites one small file, not eleven
years. Parquet through pyarrow because it is columnar (the engine reads numpy columns),
typed (no float parsing on every start) and compressed; pyarrow is the reference
implementation and the one pandas uses.

Nothing here invents or repairs a bar:
- Writes merge: a stored bar with the same time is replaced by the new one (Alpaca
  revises bars after the close), every other stored bar is kept. Each year's file is
  written to a temporary name and renamed over the old one, so a crash or a second
  writer never leaves half a file; a lock per dataset makes two `bot data update` runs
  take turns instead of losing each other's bars.
- Reads verify every file: Parquet page checksums, the columns and their types, the
  symbol and timeframe in the file's metadata, times in order inside the file's year,
  and a SHA-256 of the columns written beside them. A damaged file is refused with its
  path, never read around.
- Missing sessions (a gap) are reported by `coverage`, from the NYSE calendar; they
  are never filled.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from bot.data.calendar import MarketCalendar
from bot.data.series import BarSeries
from bot.data.timeframe import Timeframe
from bot.models import DataError, session_date

COLUMNS = ("ts", "open", "high", "low", "close", "volume", "session")
_SCHEMA = pa.schema(
    [
        ("ts", pa.int64()),  # UTC ns of the bar's start (daily: midnight ET of the session)
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("session", pa.int64()),  # days since 1970-01-01 of the ET trading date
    ]
)
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")  # as Alpaca spells US equities
_FILE = re.compile(r"^(\d{4})\.parquet$")
LOCK_WAIT_S = 600.0  # a second `bot data update` waits this long for the first one


class StoreError(DataError):
    """A store file or dataset that cannot be used; the message names its path."""


def check_symbol(symbol: str) -> str:
    """The symbol, upper-cased, or a DataError naming it (it becomes a folder name)."""
    s = symbol.strip().upper()
    if not _SYMBOL.match(s):
        raise DataError(f"{symbol!r} is not a stock symbol (letters, digits, '.' or '-', up to 12)")
    return s


def _digest(table: pa.Table) -> str:
    """SHA-256 of the columns, in order: what a reader recomputes to trust a file."""
    h = hashlib.sha256()
    for name in COLUMNS:
        col = table.column(name).to_numpy()
        h.update(np.ascontiguousarray(col).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class WriteResult:
    """What a write did to one dataset, in bars."""

    added: int = 0
    replaced: int = 0  # same time, different values (a revised bar)
    unchanged: int = 0


@dataclass(frozen=True)
class Coverage:
    """What one dataset holds: its span, its size and the sessions it lacks."""

    symbol: str
    timeframe: Timeframe
    bars: int
    first: date | None
    last: date | None
    files: int
    missing: list[date] = field(default_factory=list)  # NYSE sessions with no bar


class BarStore:
    """Datasets of bars under one folder (`[data] store` in the config)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, symbol: str, timeframe: Timeframe | str) -> Path:
        return self.root / check_symbol(symbol) / str(Timeframe(timeframe))

    def datasets(self) -> list[tuple[str, Timeframe]]:
        """Every (symbol, timeframe) with at least one year file, sorted."""
        found: list[tuple[str, Timeframe]] = []
        if not self.root.is_dir():
            return found
        for sym_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for tf_dir in sorted(p for p in sym_dir.iterdir() if p.is_dir()):
                if any(_FILE.match(f.name) for f in tf_dir.iterdir()):
                    found.append((sym_dir.name, Timeframe(tf_dir.name)))
        return found

    def has(self, symbol: str, timeframe: Timeframe | str) -> bool:
        return bool(self._files(self.folder(symbol, timeframe)))

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return sorted(f for f in folder.iterdir() if _FILE.match(f.name))

    @contextmanager
    def locked(self, symbol: str, timeframe: Timeframe | str) -> Iterator[None]:
        """The dataset's write lock; a second writer waits for the first, then goes on
        from what the first one wrote."""
        folder = self.folder(symbol, timeframe)
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / ".lock"), timeout=LOCK_WAIT_S)
        try:
            with lock:
                yield
        except Timeout:
            raise StoreError(
                f"{folder}: another `bot data` command has held this dataset for "
                f"{LOCK_WAIT_S:.0f} s; try again when it ends"
            ) from None

    def read(self, symbol: str, timeframe: Timeframe | str, source: str | None = None) -> BarSeries:
        """Every stored bar of the dataset, verified, in time order (StoreError if none)."""
        tf = Timeframe(timeframe)
        sym = check_symbol(symbol)
        folder = self.folder(sym, tf)
        files = self._files(folder)
        if not files:
            raise StoreError(
                f"{folder}: no {tf} bars of {sym} in the store; run `bot data fetch {sym}"
                f" --timeframe {tf}`"
            )
        tables = [self._read_file(f, sym, tf) for f in files]
        table = pa.concat_tables(tables)
        ts = table.column("ts").to_numpy()
        if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise StoreError(f"{folder}: year files overlap (times out of order across files)")
        return _series(table, tf, source or str(folder), sym)

    def _read_file(self, path: Path, symbol: str, tf: Timeframe) -> pa.Table:
        def bad(why: str) -> StoreError:
            return StoreError(
                f"{path}: damaged store file ({why}); delete it and run `bot data update`"
            )

        try:
            table = pq.read_table(path, page_checksum_verification=True)
        except (OSError, pa.ArrowException) as exc:
            raise bad(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        if table.schema.remove_metadata() != _SCHEMA:
            raise bad(f"columns {table.schema.names} are not {list(COLUMNS)}")
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("levelbot.symbol") != symbol or meta.get("levelbot.timeframe") != str(tf):
            raise bad(
                f"it holds {meta.get('levelbot.symbol')} {meta.get('levelbot.timeframe')},"
                f" not {symbol} {tf}"
            )
        if meta.get("levelbot.sha256") != _digest(table):
            raise bad("its bars do not match the checksum written with them")
        year = int(_FILE.match(path.name).group(1))  # type: ignore[union-attr]
        sessions = table.column("session").to_numpy()
        if len(sessions) and {session_date(int(d)).year for d in (sessions[0], sessions[-1])} != {
            year
        }:
            raise bad(f"it holds sessions outside {year}")
        ts = table.column("ts").to_numpy()
        if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise bad("bar times are not strictly increasing")
        return table

    def write(self, bars: BarSeries) -> WriteResult:
        """Merge validated bars into their dataset (new values win on the same time)."""
        if not len(bars):
            return WriteResult()
        sym = check_symbol(bars.symbol)
        tf = bars.timeframe
        with self.locked(sym, tf):
            folder = self.folder(sym, tf)
            years = np.array([session_date(int(d)).year for d in bars.session])
            added = replaced = unchanged = 0
            for year in sorted(set(years.tolist())):
                new = _table(bars.take(np.flatnonzero(years == year)))
                path = folder / f"{year}.parquet"
                merged, a, r, u = _merge(
                    self._read_file(path, sym, tf) if path.exists() else None, new
                )
                added, replaced, unchanged = added + a, replaced + r, unchanged + u
                if a or r:
                    _write_atomic(path, merged, sym, tf)
        return WriteResult(added, replaced, unchanged)

    def coverage(self, symbol: str, timeframe: Timeframe | str) -> Coverage:
        """The dataset's span and the NYSE sessions inside it that have no bar."""
        tf = Timeframe(timeframe)
        series = self.read(symbol, tf)
        sessions = np.unique(series.session)
        first, last = session_date(int(sessions[0])), session_date(int(sessions[-1]))
        cal = MarketCalendar(first, last + timedelta(days=7))  # its span must not be empty
        expected = [d for d, _, _ in cal.sessions(first, last)]
        have = set(sessions.tolist())
        missing = [d for d in expected if (d - date(1970, 1, 1)).days not in have]
        files = len(self._files(self.folder(symbol, tf)))
        return Coverage(series.symbol, tf, len(series), first, last, files, missing)


def _series(table: pa.Table, tf: Timeframe, source: str, symbol: str) -> BarSeries:
    col = {name: table.column(name).to_numpy() for name in COLUMNS}
    return BarSeries(
        col["ts"].astype("int64"),
        col["open"].astype("float64"),
        col["high"].astype("float64"),
        col["low"].astype("float64"),
        col["close"].astype("float64"),
        col["volume"].astype("float64"),
        col["session"].astype("int64"),
        tf,
        source,
        symbol,
    )


def _table(bars: BarSeries) -> pa.Table:
    return pa.table(
        [
            pa.array(np.asarray(bars.ts, dtype="int64")),
            pa.array(np.asarray(bars.open, dtype="float64")),
            pa.array(np.asarray(bars.high, dtype="float64")),
            pa.array(np.asarray(bars.low, dtype="float64")),
            pa.array(np.asarray(bars.close, dtype="float64")),
            pa.array(np.asarray(bars.volume, dtype="float64")),
            pa.array(np.asarray(bars.session, dtype="int64")),
        ],
        schema=_SCHEMA,
    )


def _merge(old: pa.Table | None, new: pa.Table) -> tuple[pa.Table, int, int, int]:
    """(merged table, added, replaced, unchanged): new rows win over old rows of the
    same time; the result is sorted by time."""
    if old is None or old.num_rows == 0:
        return new.sort_by("ts"), new.num_rows, 0, 0
    old_ts = old.column("ts").to_numpy()
    new_ts = new.column("ts").to_numpy()
    pos = np.searchsorted(old_ts, new_ts)
    inside = pos < len(old_ts)
    same = np.zeros(len(new_ts), dtype=bool)
    same[inside] = old_ts[pos[inside]] == new_ts[inside]
    replaced = unchanged = 0
    if same.any():
        old_rows = old.take(pa.array(pos[same]))
        new_rows = new.filter(pa.array(same))
        equal = np.ones(int(same.sum()), dtype=bool)
        for name in COLUMNS[1:]:
            equal &= old_rows.column(name).to_numpy() == new_rows.column(name).to_numpy()
        unchanged = int(equal.sum())
        replaced = int((~equal).sum())
    keep_old = np.ones(len(old_ts), dtype=bool)
    keep_old[pos[same]] = False
    merged = pa.concat_tables([old.filter(pa.array(keep_old)), new]).sort_by("ts")
    return merged, int((~same).sum()), replaced, unchanged


def _write_atomic(path: Path, table: pa.Table, symbol: str, tf: Timeframe) -> None:
    """Write beside the target, flush to disk, then rename over it: readers and a crash
    see the old file or the new one, never a part."""
    table = table.replace_schema_metadata(
        {
            "levelbot.symbol": symbol,
            "levelbot.timeframe": str(tf),
            "levelbot.sha256": _digest(table),
        }
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
