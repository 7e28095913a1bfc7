"""`bot sweep`'s options, and what an interrupted sweep says.

An interrupt (Ctrl-C, SIGTERM, the `limit` test hook) becomes `SweepInterrupted`:
its exit code is the signal's (130 for SIGINT, 143 for SIGTERM) and its message, the
command's last line, says what is saved and the exact command that continues
(`--resume --out DIR` with the options that shape the outputs).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from bot.config_load import ConfigError
from bot.sweep.store import RESULTS


@dataclass(frozen=True)
class Options:
    out: Path | None = None  # default runs/sweep-<time>
    workers: int | None = None  # default: every core
    scheduler: str | None = None  # tcp://host:port of a Dask scheduler
    resume: bool = False
    write_config: Path | None = None
    heatmap: str | None = None  # "x,y"
    limit: int | None = None  # test hook: stop like Ctrl-C after this many new results
    force: bool = False  # write the config even when the chosen set lost or collapsed
    engine: bool = False  # score every combination with the engine, not the kernel


class SweepInterrupted(Exception):
    """Stopped before the end (Ctrl-C, SIGTERM, the `limit` hook); the finished
    combinations are in the results file. The message says how to go on."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # 130 for SIGINT, 143 for SIGTERM


def check_options(opts: Options) -> None:
    if opts.workers is not None and opts.workers < 1:
        raise ConfigError(f"--workers must be at least 1 (got {opts.workers})")
    if opts.scheduler is not None and "://" not in opts.scheduler:
        raise ConfigError(
            f"--scheduler must be an address like tcp://127.0.0.1:8786 (got {opts.scheduler!r})"
        )
    if opts.resume and opts.out is None:
        raise ConfigError("--resume needs --out DIR: the folder of the sweep to continue")
    if opts.limit is not None and opts.limit < 1:
        raise ConfigError("limit must be at least 1")


@dataclass
class Stage:
    """How far a run got, for the message when it is interrupted."""

    name: str = "prepare"  # prepare -> score -> finish
    out_dir: Path | None = None
    saved: int = 0
    total: int = 0


def interrupted(path: str | Path, opts: Options, stage: Stage) -> str:
    if stage.name == "prepare" or stage.out_dir is None:
        if opts.resume and opts.out is not None:
            return (
                f"interrupted before scoring: the results in {opts.out / RESULTS} are "
                f"untouched; continue with: {resume_command(path, opts, opts.out)}"
            )
        return "interrupted before any combination was scored: nothing was saved; run it again"
    results, again = stage.out_dir / RESULTS, resume_command(path, opts, stage.out_dir)
    if stage.name == "finish":
        return (
            f"interrupted while writing the outputs: all {stage.total} combinations are "
            f"saved in {results}; finish with: {again}"
        )
    return (
        f"interrupted: {stage.saved} of {stage.total} combinations are saved in {results}; "
        f"continue with: {again}"
    )


def resume_command(path: str | Path, opts: Options, out_dir: Path) -> str:
    """The command that continues this sweep, with the options that shape its outputs."""
    words = ["bot", "sweep", str(path), "--out", str(out_dir), "--resume"]
    if opts.workers is not None:
        words += ["--workers", str(opts.workers)]
    if opts.scheduler is not None:
        words += ["--scheduler", opts.scheduler]
    if opts.heatmap is not None:
        words += ["--heatmap", opts.heatmap]
    if opts.write_config is not None:
        words += ["--write-config", str(opts.write_config)]
    if opts.force:
        words.append("--force")
    return shlex.join(words)
