"""results.jsonl: every finished combination, written the moment it is scored.

Line 1 is a header naming the sweep (a fingerprint of the bars, the base config, the
parameters and the spans); every other line is one combination: its grid index, its
values, and one metrics row per span. Lines are flushed as they are written, so an
interrupted sweep (Ctrl-C, a killed process) keeps what it finished, and `--resume`
reads them back and scores only the rest. A torn last line (the process died in the
middle of writing it) is dropped; damage anywhere else stops the resume with the
line number. Floats survive the JSON round trip exactly (repr), so a resumed sweep
ends with the same numbers as an uninterrupted one. Objective and constraints are
not part of the fingerprint: they only pick among stored results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from bot.config_load import ConfigError
from bot.sweep.evaluate import ComboResult

RESULTS = "results.jsonl"


def read_results(path: Path, fingerprint: str) -> dict[int, ComboResult]:
    """Finished combinations of the sweep with this fingerprint (empty if no file)."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").split("\n")
    complete = lines[:-1]  # the text after the last newline is torn (or empty)
    if not complete:
        return {}
    try:
        header = json.loads(complete[0])
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: line 1 is not a sweep header; delete the folder") from None
    if header.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"{path} holds results of a different sweep (other data, base config, "
            "parameters or windows); choose another --out or drop --resume"
        )
    done: dict[int, ComboResult] = {}
    for n, line in enumerate(complete[1:], start=2):
        try:
            d = json.loads(line)
            res = ComboResult(int(d["i"]), tuple(d["values"]), d["rows"], str(d.get("engine", "")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}: line {n} is damaged; cannot resume from it") from None
        done[res.index] = res
    return done


@contextmanager
def results_writer(path: Path, header: dict[str, Any], resume: bool) -> Iterator[Any]:
    """Yields `write(result)`; the header is written when the file is new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists() or path.stat().st_size == 0
    if path.exists() and not fresh and not resume:
        raise ConfigError(
            f"{path.parent} already holds sweep results; pass --resume to continue that "
            "sweep or choose another --out"
        )
    if not fresh:
        _drop_torn_tail(path)
    fh: IO[str] = path.open("a", encoding="utf-8")
    try:
        if fresh:
            fh.write(json.dumps(header) + "\n")
            fh.flush()

        def write(res: ComboResult) -> None:
            line: dict[str, Any] = {"i": res.index, "values": list(res.values), "rows": res.rows}
            if res.engine:  # scored by the engine, not the kernel: why
                line["engine"] = res.engine
            fh.write(json.dumps(line) + "\n")
            # Flushed per line: a Ctrl-C or a killed process keeps every finished one.
            fh.flush()

        yield write
    finally:
        fh.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (a write cut short), so appends stay valid."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
