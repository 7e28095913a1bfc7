"""The one numba import: `jit` compiles a function to machine code, typed for mypy.

Every compiled function of the kernel goes through `jit`, so the options are in one
place: `cache=True` keeps the machine code on disk (the first run of a sweep compiles,
later runs and pool workers load it), `nogil=True` lets Dask's threaded workers run
kernels side by side. No `fastmath`: the kernel must repeat the engine's floating-point
arithmetic to the last bit (a fused multiply-add or a reordered sum would change a price).
Importing this module raises ImportError when numba is not installed (`bot.kernel`
checks first and the sweep falls back to the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """`fn` compiled by numba in nopython mode (cached on disk, GIL released)."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


__all__ = ["jit"]
