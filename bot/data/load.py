"""Bars from CSV files, validated: the market-data source for backtests and replays.

`load_csv` turns a file with the columns `timestamp,open,high,low,close,volume` into
a `BarSeries` (numpy columns; times as UTC nanoseconds, sessions as US/Eastern dates).

One documented rule for bad and irregular rows:
- A row with a missing/NaN/inf or non-positive price, negative or missing volume,
  an implausible price or volume (outside `MIN_PRICE`..`MAX_PRICE`, above
  `MAX_VOLUME`), `high < low`, open or close outside [low, high], a time off the bar
  grid (e.g. 10:45:01 on 1-minute bars), before `EARLIEST_BAR` or in the future is
  *rejected*: reported with its line number, field, value and reason, and never
  traded on. The limits and the price rules are bot/data/checks.py, shared with
  broker feeds.
- Rows are then sorted by time (a stable sort, so file order breaks ties) and rows
  found out of order are reported.
- Among rows with the same timestamp the *last one in the file wins*: a later row is
  taken as a revision of the bar (like Alpaca's `updatedBars`); earlier ones are reported.
- A file that cannot be read at all (not UTF-8, a missing column, a value that is
  not a number, a timestamp that cannot be parsed, times with and without a UTC
  offset in one column) raises `DataError` naming the file, the row and the column.
Naive timestamps are US/Eastern wall-clock times; a date alone is a daily bar; times
with offsets may differ in offset (-05:00 in winter, -04:00 in summer).

The series itself is bot/data/series.py; this module reads files into one.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bot.data.checks import out_of_range, price_problems
from bot.data.series import BarSeries
from bot.data.timeframe import DAILY, MINUTE, Timeframe
from bot.models import ET, BarRejection, DataError

REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")
_TIME_ALIASES = ("timestamp", "time", "date", "datetime")
_NA_TEXT = {"", "nan", "na", "n/a", "null", "none"}
_NS_PER_MIN = 60_000_000_000
# A UTC offset after the time of day ("T10:00:00-05:00", "T15:00Z"); a date alone has none.
_UTC_OFFSET = r"[T ][\d:.]+(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class LoadResult:
    """A file's bars with what was dropped or changed on the way, for the user to see."""

    bars: BarSeries
    rejected: list[BarRejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # duplicates, reordering, skipped hours


# data/BABA_1d.csv, data/BABA_1m_2026-01-29.csv: <SYMBOL>_<timeframe>[_anything].csv
_NAMED = re.compile(r"^([A-Z][A-Z0-9.\-]{0,11})_[0-9]+[A-Za-z]{1,3}(?:_.*)?\.csv$")


def symbol_in_name(path: str | Path) -> str | None:
    """The symbol a bar file's name gives (`BABA_1d.csv` -> BABA), if it names one."""
    m = _NAMED.match(Path(path).name)
    return m.group(1) if m else None


def symbol_warning(path: str | Path, symbol: str) -> str | None:
    """One line when the file's name names another symbol than the one configured: the
    signals would be computed on one stock's bars and reported (or traded) as another's."""
    named = symbol_in_name(path)
    if named is None or named.upper() == symbol.upper():
        return None
    return (
        f"{path} looks like {named} bars, but the symbol is {symbol}; "
        f"set `symbol` in the config, pass the right file with --data, or fetch its bars "
        f"with `bot data fetch {symbol}`"
    )


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    if not path.is_file():
        raise DataError(f"data file {path} is not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"data file {path} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"data file {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        ) from None


def _frame(path: Path, text: str) -> pd.DataFrame:
    if not text.strip():
        raise DataError(f"data file {path} is empty")
    try:
        df = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"data file {path} is not a readable CSV: {exc}") from None
    # Keep each row's line in the file (header = line 1) so reports point at the right
    # line even when blank lines are skipped.
    df["_line"] = np.arange(len(df)) + 2
    blank = (df.drop(columns="_line") == "").all(axis=1)
    df = df[~blank].reset_index(drop=True)
    df.columns = [str(c).strip().lower() for c in df.columns]
    for alias in _TIME_ALIASES:
        if alias in df.columns and "timestamp" not in df.columns:
            df = df.rename(columns={alias: "timestamp"})
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"data file {path}: missing column(s) {', '.join(missing)}; "
            f"header is {', '.join(df.columns)}; expected {','.join(REQUIRED)}"
        )
    return df


def _numbers(path: Path, df: pd.DataFrame, col: str) -> np.ndarray:
    raw = df[col].str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & ~raw.str.lower().isin(_NA_TEXT)
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5]
        where = "; ".join(f"row {df['_line'].iloc[r]}: {raw.iloc[r]!r}" for r in rows)
        raise DataError(f"data file {path}: column {col} has values that are not numbers ({where})")
    return values.to_numpy(dtype="float64")


def _parse_times(path: Path, df: pd.DataFrame) -> tuple[pd.DatetimeIndex, bool]:
    """The timestamp column parsed (not yet in US/Eastern) and whether it holds dates only."""
    raw = df["timestamp"].str.strip()
    try:
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=False)
    except ValueError:
        # pandas refuses a column whose times carry different UTC offsets (-05:00 in
        # winter, -04:00 in summer); when every time has one, UTC holds them all.
        aware = raw.str.contains(_UTC_OFFSET)
        if not aware.all():
            rows = np.flatnonzero((aware != aware.iloc[0]).to_numpy())[:5]
            where = "; ".join(f"row {df['_line'].iloc[r]}: {raw.iloc[r]!r}" for r in rows)
            raise DataError(
                f"data file {path}: column timestamp mixes times with and without a UTC "
                f"offset ({where}); give every time an offset or none"
            ) from None
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
    bad = parsed.isna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5]
        where = "; ".join(f"row {df['_line'].iloc[r]}: {raw.iloc[r]!r}" for r in rows)
        raise DataError(f"data file {path}: column timestamp has unreadable times ({where})")
    daily = bool((raw.str.len() <= 10).all())
    return pd.DatetimeIndex(parsed), daily


def _localize(path: Path, idx: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if idx.tz is None:
        try:
            return idx.tz_localize(ET, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # pytz/zoneinfo errors differ by pandas version
            raise DataError(f"data file {path}: timestamp not valid in US/Eastern: {exc}") from None
    return idx.tz_convert(ET)


def _timeframe(ts: np.ndarray, daily: bool) -> Timeframe:
    """Daily when the file has dates only; else the most common spacing of its times."""
    if daily:
        return DAILY
    diffs = np.diff(ts)
    diffs = diffs[(diffs > 0) & (diffs < 86_400 * 1_000_000_000)]
    if len(diffs) == 0:
        return MINUTE
    return Timeframe.of_minutes(int(pd.Series(diffs // _NS_PER_MIN).mode().iloc[0]))


def load_csv(
    path: str | Path, regular_hours_only: bool = True, symbol: str | None = None
) -> LoadResult:
    """Read and validate a bar file; see the module docstring for the rules. The bars
    carry `symbol`, or (None) the one the file's name gives (`symbol_in_name`), or ""."""
    path = Path(path)
    src = str(path)
    df = _frame(path, _read_text(path))
    line = df["_line"].to_numpy()
    cols = {c: _numbers(path, df, c) for c in REQUIRED[1:]}
    parsed, daily = _parse_times(path, df)

    rejected: list[BarRejection] = []
    # A time outside the bar range is rejected here, before anything else sees it: it
    # could not become int64 nanoseconds, and its prices belong to no usable bar.
    unusable = np.zeros(len(parsed), dtype=bool)
    for mask, why in out_of_range(parsed):
        for r in np.flatnonzero(mask & ~unusable).tolist():
            raw = str(df["timestamp"].iloc[r]).strip()
            rejected.append(BarRejection(int(line[r]), "timestamp", raw, why, src))
        unusable |= mask
    if unusable.any():
        usable = ~unusable
        line, parsed = line[usable], parsed[usable]
        cols = {k: arr[usable] for k, arr in cols.items()}

    idx = _localize(path, parsed)
    ts = idx.asi8.astype("int64") if idx.unit == "ns" else idx.as_unit("ns").asi8
    o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    timeframe = _timeframe(np.sort(ts), daily)

    reasons = price_problems(o, h, lo, c, v)
    if not timeframe.daily:
        step = timeframe.interval_ns
        reasons.append((ts % step != 0, "timestamp", f"not on the {timeframe} bar grid", ts))
    future = pd.Timestamp.now(tz="UTC").value + 86_400 * 1_000_000_000
    reasons.append((ts > future, "timestamp", "in the future", ts))

    rejected_mask = np.zeros(len(ts), dtype=bool)
    for mask, fname, why, arr in reasons:
        for r in np.flatnonzero(mask & ~rejected_mask).tolist():
            value = idx[r].isoformat() if fname == "timestamp" else repr(float(arr[r]))
            rejected.append(BarRejection(int(line[r]), fname, value, why, src))
        rejected_mask |= mask
    rejected.sort(key=lambda x: x.row or 0)

    notes: list[str] = []
    # Order is judged on every row with a plausible time (a rejected row still tells
    # where the file was), so a row stamped earlier than one before it is reported.
    present = np.flatnonzero(ts <= future)
    pts = ts[present]
    running_max = np.maximum.accumulate(pts) if len(pts) else pts
    for j in np.flatnonzero(pts[1:] < running_max[:-1]) + 1:
        r = present[j]
        notes.append(f"row {line[r]} ({idx[r].isoformat()}) is out of order; sorted into place")
    keep = np.flatnonzero(~rejected_mask)
    kts = ts[keep]
    order = keep[np.argsort(kts, kind="stable")]
    sts = ts[order]
    # Same timestamp: the last row in file order wins (a revision of the bar).
    last = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        same = sts[1:] == sts[:-1]
        last[:-1] = ~same
        for j in np.flatnonzero(same):
            notes.append(
                f"row {line[order[j]]} ({idx[order[j]].isoformat()}) duplicates row "
                f"{line[order[j + 1]]}; the later row wins"
            )
    order = order[last]

    local = idx[order]
    if not timeframe.daily and regular_hours_only:
        minutes = local.hour * 60 + local.minute
        rth = np.asarray((minutes >= 9 * 60 + 30) & (minutes < 16 * 60))
        if (~rth).any():
            notes.append(f"{int((~rth).sum())} bar(s) outside regular hours 09:30-16:00 ET skipped")
        order, local = order[rth], local[rth]
    session = np.asarray(
        (local.tz_localize(None).normalize() - pd.Timestamp("1970-01-01")).days, dtype="int64"
    )
    series = BarSeries(
        ts[order].copy(),
        o[order].copy(),
        h[order].copy(),
        lo[order].copy(),
        c[order].copy(),
        v[order].copy(),
        session,
        timeframe,
        src,
        symbol if symbol is not None else (symbol_in_name(path) or ""),
    )
    return LoadResult(series, rejected, notes)
