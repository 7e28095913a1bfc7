"""Property tests: malformed inputs give a clear error or a valid result, never a crash.

- any bytes as a CSV file: `load_csv` returns validated bars or raises `DataError`;
- random bar rows: every accepted bar satisfies the bad-bar rules, every other row is
  reported with its line number;
- any TOML text as a config: `load_settings` returns settings or raises `ConfigError`.
"""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config_load import ConfigError, load_settings
from bot.data.load import load_csv
from bot.models import DataError

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(st.binary(max_size=400))
def test_any_bytes_never_crash_the_loader(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(blob)
    try:
        load_csv(path)
    except DataError as exc:
        assert str(path) in str(exc)


number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["", "nan", "-1", "0"]),
)


@FAST
@given(st.lists(st.tuples(number, number, number, number, number), min_size=1, max_size=30))
def test_accepted_bars_obey_the_rules_and_rejections_name_their_row(
    tmp_path: Path, rows: list[tuple[object, ...]]
) -> None:
    lines = ["timestamp,open,high,low,close,volume"]
    for i, r in enumerate(rows):
        lines.append(f"2024-01-{(i % 28) + 1:02d}," + ",".join(str(v) for v in r))
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    try:
        res = load_csv(path)
    except DataError:
        return  # e.g. a value that is not a number at all
    b = res.bars
    for o, h, lo, c, v in zip(b.open, b.high, b.low, b.close, b.volume, strict=True):
        assert all(math.isfinite(x) and x > 0 for x in (o, h, lo, c))
        assert lo <= min(o, c) and max(o, c) <= h and v >= 0
    assert all(r.row is not None and 2 <= r.row <= len(rows) + 1 for r in res.rejected)
    rejected_rows = {r.row for r in res.rejected}
    assert len(b) + len(rejected_rows) <= len(rows)


@FAST
@given(st.text(max_size=300))
def test_any_toml_text_gives_settings_or_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc) or "environment variable" in str(exc)
