"""A combination's settings as the kernel's parameter arrays (ints and floats).

Each compiled function takes its parameters as two small numpy arrays, indexed by the
constants of bot/kernel/signals.py and bot/kernel/fills.py: one compiled signature for
every combination, and cheap to pass. Pure Python; `Strategy.key` and `Trading.key`
identify the parameters, so a sweep reuses what an earlier combination computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.kernel import fills as F
from bot.kernel import signals as S
from bot.settings import Settings
from strategies.level_config import LevelBreakoutConfig

SIZING = {
    "fixed_shares": F.FIXED_SHARES,
    "fixed_notional": F.FIXED_NOTIONAL,
    "percent_equity": F.PERCENT_EQUITY,
    "risk": F.RISK,
}


@dataclass(frozen=True)
class Strategy:
    """The level rules' parameters, and the indicator series they read."""

    levels: np.ndarray
    peak_lookback: int  # 0: no moving peak
    volume_lookback: int  # 0: no volume rule
    rsi_period: int  # 0: no RSI filter
    adx_period: int  # 0: no ADX filter
    ints: np.ndarray
    floats: np.ndarray
    key: str


@dataclass(frozen=True)
class Trading:
    """Risk, the broker's costs and fill rule."""

    atr_period: int
    ints: np.ndarray
    floats: np.ndarray
    key: tuple[float, ...]


def strategy_params(cfg: LevelBreakoutConfig) -> Strategy:
    ints = np.zeros(5, np.int64)
    ints[S.I_CONFIRM] = cfg.confirm_closes
    ints[S.I_USE_VOLUME] = cfg.volume_multiple > 0
    ints[S.I_RSI] = cfg.rsi_filter
    ints[S.I_ADX] = cfg.adx_filter
    floats = np.zeros(5)
    floats[S.F_UP] = 1.0 + cfg.breakout_buffer_pct / 100.0
    floats[S.F_DN] = 1.0 - cfg.breakdown_buffer_pct / 100.0
    floats[S.F_VOLUME_MULTIPLE] = cfg.volume_multiple
    floats[S.F_RSI_MAX] = cfg.rsi_max
    floats[S.F_ADX_MIN] = cfg.adx_min
    return Strategy(
        np.array(cfg.levels, dtype="float64"),
        cfg.peak_lookback_sessions if cfg.use_52w_peak else 0,
        cfg.volume_lookback if cfg.volume_multiple > 0 else 0,
        cfg.rsi_period if cfg.rsi_filter else 0,
        cfg.adx_period if cfg.adx_filter else 0,
        ints,
        floats,
        cfg.model_dump_json(),
    )


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
    key = (rk.atr_period, *ints.tolist(), *floats.tolist())
    return Trading(rk.atr_period, ints, floats, key)
