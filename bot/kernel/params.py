"""A combination's [risk] and [broker] settings as the compiled fills' parameter arrays.

`bot.kernel.fills.trade` takes its parameters as two small numpy arrays (ints and
floats), indexed by that module's constants: one compiled signature for every
combination, and cheap to pass. (A strategy's kernel makes its own, e.g.
strategies/level_kernel.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.kernel import fills as F
from bot.settings import Settings

SIZING = {
    "fixed_shares": F.FIXED_SHARES,
    "fixed_notional": F.FIXED_NOTIONAL,
    "percent_equity": F.PERCENT_EQUITY,
    "risk": F.RISK,
}


@dataclass(frozen=True)
class Trading:
    """Risk, the broker's costs and fill rule."""

    atr_period: int
    ints: np.ndarray
    floats: np.ndarray


def trading_params(settings: Settings) -> Trading:
    rk, bk = settings.risk, settings.broker
    ints = np.zeros(6, np.int64)
    ints[F.I_SIZING] = SIZING[rk.sizing]
    ints[F.I_STOP_LOSS] = rk.stop_loss
    ints[F.I_TRAILING] = rk.trailing_stop
    ints[F.I_EXIT_ON_BREAKDOWN] = rk.exit_on_breakdown
    ints[F.I_SHORT] = rk.allow_short
    ints[F.I_AT_CLOSE] = bk.fill_at == "close"
    floats = np.zeros(11)
    floats[F.F_CASH] = bk.initial_cash
    floats[F.F_FIXED_SHARES] = float(rk.fixed_shares)
    floats[F.F_NOTIONAL] = rk.fixed_notional
    floats[F.F_PERCENT] = rk.percent_equity
    floats[F.F_RISK_PCT] = rk.risk_pct
    floats[F.F_ATR_MULTIPLE] = rk.atr_multiple
    floats[F.F_MAX_POSITION] = rk.max_position_pct
    floats[F.F_TAKE_PROFIT] = rk.take_profit_pct
    floats[F.F_PER_SHARE] = bk.commission_per_share
    floats[F.F_COMMISSION_MIN] = bk.commission_min
    floats[F.F_SLIPPAGE] = bk.slippage_bps
    return Trading(rk.atr_period, ints, floats)
