"""Parameter sweeps with walk-forward validation (`bot sweep`).

A sweep file names config keys to vary; every combination is scored on rolling (or
anchored) train windows and the best one per window is judged on the test window that
follows, with the same engine as `bot backtest`. Modules, in the order data flows:
options (the command's options, the interrupt message) -> spec (the sweep file) ->
params (the grid) -> windows (the spans) -> prepare (all checks, before any work) ->
evaluate (one worker's scoring) -> execute (pool or Dask) -> store (results.jsonl,
resume) -> select (choices, flags) -> verdict (may the final choice be written?) ->
output, report, curves, configfile (what is written) -> run (the command's flow).
Imports no broker other than the simulated one and never the CLI.
"""

from bot.sweep.run import Options, Outcome, SweepInterrupted, run_sweep

__all__ = ["Options", "Outcome", "SweepInterrupted", "run_sweep"]
