"""The compiled kernel of sweeps and scans: the level rules and the fills, in numba.

A sweep scores thousands of combinations; the engine (bot/engine) steps bar objects
through a strategy object, a risk manager and a simulated broker, which is right for a
run and slow for a grid. The kernel computes the same thing with numba-compiled loops
over the bar columns: the indicator series once per parameter (`series`), the signals
(the strategy's own compiled kernel, named by its registry entry: the level strategy's
is strategies/level_kernel.py), risk, fills and booking over a span (`fills`), and the
report's figures (`metrics`), put together by `run.Kernel`. It gives the engine's
trades, equity, position and figures to the last bit (tests/test_kernel.py; `make bench`
checks every combination it times).

numba is an optional extra (`pip install -e '.[fast]'`, which `make` installs). Without
it, or for a combination the kernel does not implement (`support.unsupported`: a
strategy without a compiled kernel, a user's strategy), the sweep runs the engine and
says so.
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["available", "missing"]

# Set to 1 to score sweeps with the engine even where numba is installed (a check, and
# what a machine without the extra does).
OFF_VARIABLE = "BOT_KERNEL_OFF"


def missing() -> str | None:
    """Why the kernel cannot run in this process, or None when it can."""
    if os.environ.get(OFF_VARIABLE, "") not in ("", "0"):
        return f"{OFF_VARIABLE} is set"
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed (pip install -e '.[fast]')"
    return None


def available() -> bool:
    return missing() is None
