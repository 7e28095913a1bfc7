"""Parameter sweeps with walk-forward validation (`bot sweep`).

A sweep file names config keys to vary; every combination is scored on rolling (or
anchored) train windows and the best one per window is judged on the test window that
follows, with the same engine as `bot backtest`. Modules, in the order data flows:
spec (the sweep file) -> params (the grid) -> windows (the spans) -> prepare (all
checks, before any work) -> evaluate (one worker's scoring) -> execute (pool or Dask)
-> store (results.jsonl, resume) -> select (choices, collapse rule) -> output,
report, curves, configfile (what is written) -> run (the command's flow).
Imports no broker other than the simulated one and never the CLI.
"""

from bot.sweep.run import Options, Outcome, SweepInterrupted, run_sweep

__all__ = ["Options", "Outcome", "SweepInterrupted", "run_sweep"]
