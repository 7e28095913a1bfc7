"""`bot sweep`: check everything, score the combinations, choose, write the outputs.

Order: the sweep file and everything it names are checked first (bot.sweep.prepare)
together with the command-line options; only then are combinations scored, each one
appended to results.jsonl as it finishes (so Ctrl-C keeps them and `--resume` skips
them). Then the walk-forward choice, results.csv, report.html and, if asked, the
config file: refused when the verdict (bot.sweep.verdict) finds the final choice lost
money or collapsed, unless `--force`. An interrupt anywhere becomes SweepInterrupted
(bot.sweep.options). The command-line layer (bot/cli/tools.py) only parses options and
prints.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from rich.console import Console

from bot import lifecycle
from bot.config_load import ConfigError
from bot.kernel import missing as kernel_missing
from bot.sweep.configfile import chosen_settings, write_config
from bot.sweep.curves import Rerun, full_curves, walk_forward_curve
from bot.sweep.evaluate import ComboResult
from bot.sweep.execute import execute, progress
from bot.sweep.metrics import COL, METRIC_KEYS, OBJECTIVES, Row
from bot.sweep.options import Options, Stage, SweepInterrupted, check_options, interrupted
from bot.sweep.output import describe, fmt, span_text, write_results_csv
from bot.sweep.params import Grid
from bot.sweep.prepare import Prepared, prepare
from bot.sweep.report import write_report
from bot.sweep.select import Choice, ComboSummary, Rules, choose, summarize
from bot.sweep.store import RESULTS, read_results, results_writer
from bot.sweep.verdict import concerns, refusal, verdict_line

__all__ = ["Options", "Outcome", "SweepInterrupted", "run_sweep", "write_chosen_config"]


@dataclass
class Outcome:
    prep: Prepared
    rules: Rules
    results: list[ComboResult]
    choices: list[Choice]
    summaries: list[ComboSummary]
    out_dir: Path
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    concerns: list[str] = field(default_factory=list)  # against the final choice (verdict)
    refusal: str | None = None  # why --write-config wrote nothing (one line)

    @property
    def final(self) -> Choice:
        return self.choices[-1]


def heatmap_axes(grid: Grid, raw: str | None) -> tuple[str, str] | None:
    """The two parameters of the heatmap (dotted or bare key names), None for a single
    swept parameter; ConfigError for a name that is not swept."""
    if raw is None:
        return (grid.names[0], grid.names[1]) if len(grid.names) >= 2 else None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--heatmap takes two parameter names, x,y (got {raw!r})")
    out: list[str] = []
    for p in parts:
        hits = [n for n in grid.names if n == p or n.split(".", 1)[1] == p]
        if len(hits) != 1:
            raise ConfigError(
                f"--heatmap: {p} is not a swept parameter; swept: {', '.join(grid.names)}"
            )
        out.append(hits[0])
    if out[0] == out[1]:
        raise ConfigError("--heatmap: give two different parameters")
    return out[0], out[1]


def run_sweep(path: str | Path, opts: Options, console: Console | None = None) -> Outcome:
    """The whole command. An interrupt (KeyboardInterrupt, or bot.lifecycle's
    Interrupted for SIGINT/SIGTERM) at any point becomes SweepInterrupted, whose message
    says what is saved and how to go on, and whose exit code is the signal's."""
    console = console or Console(quiet=True)
    check_options(opts)
    stage = Stage(out_dir=opts.out)
    try:
        outcome = _run(path, opts, console, stage)
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, lifecycle.Interrupted) else 130
        raise SweepInterrupted(interrupted(path, opts, stage), code) from None
    # Only printing is left: a signal now ends the command with this line (bot.cli.entry).
    lifecycle.set_hint(f"the sweep had finished; its outputs are in {outcome.out_dir}")
    return outcome


def _run(path: str | Path, opts: Options, console: Console, stage: Stage) -> Outcome:
    prep = prepare(path)
    axes = heatmap_axes(prep.grid, opts.heatmap)
    out_dir = opts.out or Path("runs") / datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    results_path = out_dir / RESULTS
    done = read_results(results_path, prep.fingerprint) if opts.resume else {}
    todo = [(i, prep.grid.combo(i)) for i in prep.grid.indices if i not in done]
    total = len(prep.grid.indices)
    workers = opts.workers or os.cpu_count() or 1
    header = {
        "kind": "levelbot-sweep",
        "fingerprint": prep.fingerprint,
        "sweep_file": str(prep.spec.path),
        "names": list(prep.grid.names),
        "runs": [list(r) for r in prep.plan.runs],
        "metrics": list(METRIC_KEYS),
        "combinations": total,
    }
    if done:
        console.print(f"resuming: {len(done)} of {total} combinations already scored")
    compiled = _compile(opts)
    t0 = time.perf_counter()
    new = 0
    # From here on a resume can go on (it starts afresh if the file is not there yet).
    stage.name, stage.out_dir, stage.saved, stage.total = "score", out_dir, len(done), total
    with results_writer(results_path, header, opts.resume) as write:

        def on_result(res: ComboResult) -> None:
            nonlocal new
            with lifecycle.deferred():  # a signal waits: the file and the count agree
                write(res)
                done[res.index] = res
                stage.saved = len(done)
            new += 1
            if new == opts.limit:
                raise KeyboardInterrupt  # the test hook stops exactly as Ctrl-C does

        execute(
            replace(prep.job, kernel=not opts.engine),
            todo,
            on_result,
            workers=workers,
            scheduler=opts.scheduler,
            show=lambda: progress(console, total, total - len(todo)),
        )
    stage.name = "finish"
    seconds = time.perf_counter() - t0
    results = [done[i] for i in prep.grid.indices]
    where = _where(workers, opts.scheduler, seconds, len(todo)) + "; " + scorers(results)
    where += compiled
    return finish(prep, results, out_dir, seconds, axes, opts, where)


def _compile(opts: Options) -> str:
    """Compile the kernel here, or load it from numba's cache (a fraction of a second), so
    the scoring time is the scoring's; the first time on a machine, says how long it took."""
    if opts.engine or kernel_missing() is not None:
        return ""
    from bot.kernel.run import warm

    secs = warm()  # execute() then finds it done
    return (
        f"; the kernel compiled in {secs:.0f} s (numba keeps it for later runs)" if secs > 2 else ""
    )


def _where(workers: int, scheduler: str | None, seconds: float, scored: int) -> str:
    on = f"the Dask cluster at {scheduler}" if scheduler else f"{workers} local worker(s)"
    return f"{scored} combination(s) scored in {seconds:.1f} s on {on}"


def scorers(results: Sequence[ComboResult]) -> str:
    """How the combinations were scored: by the compiled kernel, or by the engine and why."""
    why = Counter(r.engine for r in results if r.engine)
    kernel = len(results) - sum(why.values())
    if not why:
        return f"all {kernel} by the compiled kernel (bot.kernel)"
    reasons = "; ".join(f"{n} because {text}" for text, n in why.most_common())
    head = f"{kernel} by the compiled kernel, " if kernel else ""
    return f"{head}{sum(why.values())} by the engine ({reasons})"


def finish(
    prep: Prepared,
    results: list[ComboResult],
    out_dir: Path,
    seconds: float,
    axes: tuple[str, str] | None,
    opts: Options,
    where: str,
) -> Outcome:
    spec = prep.spec
    rules = Rules(spec.objective, spec.min_trades, spec.max_drawdown_pct)
    choices = choose(results, prep.plan, rules)
    summaries = summarize(results, prep.plan, rules, choices)
    outcome = Outcome(prep, rules, results, choices, summaries, out_dir, seconds)
    rerun = Rerun(prep)
    wf = walk_forward_curve(prep, choices, rerun)
    curves = full_curves(prep, summaries, rerun)
    if wf is not None:
        curves.insert(0, wf[0])
    wf_row = None if wf is None else wf[1]
    final_summary = next((s for s in summaries if s.final), None)
    outcome.concerns = concerns(prep, rules, outcome.final, final_summary, wf_row)
    outcome.lines = [where, *summary_lines(prep, rules, choices, wf_row)]
    outcome.lines.append(verdict_line(prep, outcome.final, outcome.concerns))
    outcome.warnings = rerun.warnings
    files = outcome.files
    files["results"] = out_dir / RESULTS
    files["csv"] = write_results_csv(
        out_dir / "results.csv", prep.series, prep.plan, prep.grid, summaries, rules
    )
    files["report"] = write_report(
        out_dir / "report.html", prep, outcome.lines, choices, summaries, rules, axes, curves
    )
    path = opts.write_config
    if path is not None:
        if outcome.final.index is None or (outcome.concerns and not opts.force):
            outcome.refusal = refusal(path, prep, outcome.final, outcome.concerns)
        else:
            files["config"] = write_chosen_config(path, outcome)
            if outcome.concerns:
                outcome.warnings.append(
                    f"{path} written with --force: the chosen set is not recommended"
                )
    return outcome


def _figures(row: Row | None, objective: str) -> str:
    if row is None:
        return "no figures"
    metric = OBJECTIVES[objective]
    parts = [f"{objective} {fmt(row[COL[metric]])}"] if metric != "total_return_pct" else []
    parts += [
        f"total return {fmt(row[COL['total_return_pct']])}%",
        f"max drawdown {fmt(row[COL['max_drawdown_pct']])}%",
        f"trades {row[COL['trades']]}",
    ]
    return ", ".join(parts)


def summary_lines(
    prep: Prepared, rules: Rules, choices: Sequence[Choice], wf_row: Row | None
) -> list[str]:
    spec, plan, grid, s = prep.spec, prep.plan, prep.grid, prep.series
    wf = spec.walk_forward
    sample = f" (seeded sample, seed {spec.seed})" if len(grid.indices) < grid.size else ""
    limit = "none" if rules.max_drawdown_pct is None else f"{rules.max_drawdown_pct:g}%"
    final = choices[-1]
    lines = [
        f"base config {spec.base_config}; bars {s.source} ({len(s)} {s.timeframe} bars); "
        f"range {span_text(s, plan.full)} ({plan.full[1] - plan.full[0]} bars)",
        f"{len(grid.indices)} of {grid.size} combinations{sample} of "
        + "; ".join(f"{n} in {list(v)}" for n, v in zip(grid.names, grid.values, strict=True)),
        f"objective {rules.objective}; constraints per window: min_trades {rules.min_trades}, "
        f"max drawdown {limit}",
        f"walk-forward: {plan.windows} {'anchored' if wf.anchored else 'rolling'} windows, "
        f"train {wf.train_bars} bars, test {wf.test_bars}, step {wf.step_bars}",
        "flags: collapsed if IS > z and (OOS < z or OOS - z < 0.5 x (IS - z)); lost if "
        "IS <= z and OOS < z; else ok; z = 1 for profit_factor, else 0 (Sharpe: collapsed "
        "when OOS < 0 while IS > 0, or OOS below half of IS)",
    ]
    if wf_row is not None:
        lines.append(f"walk-forward out of sample, stitched: {_figures(wf_row, rules.objective)}")
    if final.index is None:
        lines.append(f"final window {span_text(s, final.train)}: no set met the constraints")
    else:
        chosen = describe(grid.names, grid.combo(final.index))
        lines.append(
            f"final choice (train window {span_text(s, final.train)}): {chosen}: "
            f"{_figures(final.is_row, rules.objective)}"
        )
    return lines


def write_chosen_config(path: Path, outcome: Outcome, index: int | None = None) -> Path:
    """A complete config for set `index` (default: the final choice), its figures on top."""
    prep, final = outcome.prep, outcome.final
    index = final.index if index is None else index
    if index is None:
        raise ConfigError("no parameter set met the constraints on the final window")
    spec, grid, s, plan = prep.spec, prep.grid, prep.series, prep.plan
    values = grid.combo(index)
    settings = chosen_settings(spec.base_config, grid.names, values, prep.data_path)
    rows = outcome.results[grid.indices.index(index)].rows
    base = prep.base
    swept = [
        f"{n} = {v} (base {getattr(getattr(base, n.split('.')[0]), n.split('.')[1])})"
        for n, v in zip(grid.names, values, strict=True)
    ]
    how = "Chosen" if index == final.index else f"Set {index} (not the sweep's choice)"
    header = [
        f"Written by `bot sweep {spec.path}` on {datetime.now():%Y-%m-%d %H:%M}.",
        f"Objective {spec.objective}; constraints per window: min_trades {spec.min_trades}, "
        f"max_drawdown_pct {spec.max_drawdown_pct if spec.max_drawdown_pct else 'none'}.",
        f"{how}, on the final train window {span_text(s, plan.final)}: "
        f"{_figures(rows[plan.final_run], spec.objective)}.",
        f"Same set over the whole range {span_text(s, plan.full)}: "
        f"{_figures(rows[0], spec.objective)}.",
        *[f"{line}." for line in outcome.lines if line.startswith("walk-forward out")],
        "Swept: " + "; ".join(swept) + ".",
        *(
            [f"NOT RECOMMENDED (written with --force): {'; '.join(outcome.concerns)}."]
            if index == final.index and outcome.concerns
            else []
        ),
        f"data.path is the sweep's bar file; everything else comes from {spec.base_config}.",
    ]
    return write_config(path, settings, header, grid.names)
