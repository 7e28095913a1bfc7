"""The level rules as one plain Python loop: the reference `make bench` times the engine against.

Machines here differ by 3x in speed, so the engine's speed is printed as a ratio to this
loop, measured in the same process on the same bars. It is what someone would write without
the framework: one function, local variables, no objects per bar, no events, no order
book. It runs over the bars as Python lists (`bar_lists`, built before the clock starts,
like loading the data) and gives what `run_backtest` gives: the closed trades and the
equity at every close.

It implements the rules the engine runs for the bench's configurations, with the engine's
arithmetic in the engine's order so the trades come out equal to the last bit:
- one fixed level and the moving peak (highest high of the previous
  `peak_lookback_sessions` sessions plus the current session's earlier bars, never the bar
  itself); each level's side (BELOW/ABOVE) set from the first bar after warm-up;
- breakout: `confirm_closes` closes above level x (1 + buffer), the bar's volume at least
  `volume_multiple` x the mean of the `volume_lookback` bars before it; for the peak, each
  close is compared with the peak as of its own bar and the peak the first confirming close
  broke is frozen for the breakdown test; breakdown: `confirm_closes` closes below the
  (frozen) level x (1 - buffer);
- risk: long only, one position at a time; sizing fixed_shares, fixed_notional,
  percent_equity or risk, capped by `max_position_pct` and buying power, in whole shares;
  an entry is refused while one is pending; the position is closed by the breakdown of the
  level that opened it (its stop cancelled first);
- fills: market orders at the next bar's open, `slippage_bps` worse; the initial stop
  (close - atr_multiple x ATR, rounded to cents) is live from the entry's fill on, the rest
  of that bar included; a stop fills at the open when the bar gaps through it, else at the
  stop, with slippage; the trailing stop is raised after each bar's fills to the highest
  high since entry (the entry price to start with) minus atr_multiple x ATR, never lowered.

Not implemented (`unsupported` names them and `plain_backtest` refuses): other strategies,
RSI/ADX filters, shorts, take-profit, commissions, fill-at-close, several fixed levels or
none, no peak.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from bot.data.series import BarSeries
from bot.models import Trade
from bot.settings import Settings
from strategies.level_config import LevelBreakoutConfig

# Level sides and signal kinds, as small ints (cheap to compare in the loop).
UNSET, BELOW, ABOVE = 0, 1, 2
NO_SIGNAL, BREAKOUT, BREAKDOWN = 0, 1, 2
NO_LEVEL, FIXED, PEAK = 0, 1, 2
NAN = math.nan
# ts, open, high, low, close, volume, session: one list per column, as `bar_lists` builds.
BarLists = tuple[
    list[int], list[float], list[float], list[float], list[float], list[float], list[int]
]


@dataclass(frozen=True, slots=True)
class PlainTrade:
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    qty: float
    pnl: float
    level: int  # FIXED or PEAK: the level whose breakout opened it


@dataclass(slots=True)
class PlainResult:
    trades: list[PlainTrade]
    equity: list[float]  # cash + shares x close at every bar
    signals: int  # confirmed breakouts and breakdowns, refused ones included


def unsupported(settings: Settings) -> list[str]:
    """What in `settings` this loop does not implement (empty: it runs them)."""
    st, rk, bk = settings.strategy, settings.risk, settings.broker
    if not isinstance(st, LevelBreakoutConfig):
        return [f"strategy {st.name!r}: only level_breakout"]
    why = []
    if len(st.levels) != 1 or not st.use_52w_peak:
        why.append("exactly one fixed level plus the peak")
    if st.rsi_filter or st.adx_filter:
        why.append("RSI/ADX filters")
    if rk.allow_short:
        why.append("shorts")
    if rk.take_profit_pct > 0:
        why.append("take-profit")
    if bk.commission_per_share or bk.commission_min:
        why.append("commissions")
    if bk.fill_at != "next_open":
        why.append("fill_at = close")
    return why


def bar_lists(series: BarSeries) -> BarLists:
    """The columns of `series` as Python lists: what the plain loop iterates over."""
    return (
        series.ts.tolist(),
        series.open.tolist(),
        series.high.tolist(),
        series.low.tolist(),
        series.close.tolist(),
        series.volume.tolist(),
        series.session.tolist(),
    )


def plain_backtest(settings: Settings, bars: BarLists) -> PlainResult:
    """Run the rules over every bar of `bars` (see the module docstring)."""
    problems = unsupported(settings)
    if problems:
        raise ValueError("the plain loop does not implement: " + ", ".join(problems))
    st, rk, bk = settings.strategy, settings.risk, settings.broker
    assert isinstance(st, LevelBreakoutConfig)
    # Strategy thresholds.
    up = 1.0 + st.breakout_buffer_pct / 100.0
    dn = 1.0 - st.breakdown_buffer_pct / 100.0
    n = st.confirm_closes
    fixed = st.levels[0]
    fixed_up, fixed_dn = fixed * up, fixed * dn  # the fixed level's frozen value is itself
    use_volume = st.volume_multiple > 0
    vol_multiple, vol_lookback = st.volume_multiple, st.volume_lookback
    # Signals from the first bar with `confirm_closes` closes and a full volume window.
    warm_from = max(n - 1, vol_lookback if use_volume else 0)
    lookback = st.peak_lookback_sessions
    # Risk and fills.
    sizing, exit_on_breakdown = rk.sizing, rk.exit_on_breakdown
    protect, trailing = rk.stop_loss or rk.trailing_stop, rk.trailing_stop
    atr_n, atr_multiple = rk.atr_period, rk.atr_multiple
    atr_n1 = atr_n - 1
    need_atr = protect or sizing == "risk"
    slip = 1.0 + bk.slippage_bps / 10_000.0  # buying power and the broker's cost check
    buy_mult = 1 + bk.slippage_bps / 10_000.0
    sell_mult = 1 - bk.slippage_bps / 10_000.0

    # Fixed level: side and runs of closes beyond each buffer.
    f_state, f_above, f_below = UNSET, 0, 0
    # Peak: completed sessions as a monotonic deque of (index, high), highs decreasing.
    sessions_done, maxq = 0, deque[tuple[int, float]]()
    prior_peak = NAN  # highest high of the last `lookback` completed sessions
    cur_session: int | None = None
    cur_high = -math.inf
    p_state, p_above, p_below, p_frozen = UNSET, 0, 0, NAN
    p_refs = deque[float](maxlen=n)  # the peak as of each of the last n closes above it
    # Volume window (a running sum, as RollingMean) and ATR (as bot.indicators.ATR).
    vol_sum = 0.0
    atr, atr_count, atr_sum, prev_close = NAN, 0, 0.0, NAN
    # Account and orders.
    cash, qty, avg_price = settings.broker.initial_cash, 0.0, 0.0
    entry_pending, entry_shares, entry_stop, entry_level = False, 0, NAN, NO_LEVEL
    entry_ts, entry_price, extreme = 0, 0.0, 0.0
    stop_live, stop, exit_pending = False, 0.0, False
    trades: list[PlainTrade] = []
    equity: list[float] = []
    eq_append = equity.append
    signals = 0

    ts_l, open_l, high_l, low_l, close_l, vol_l, session_l = bars
    columns = zip(ts_l, open_l, high_l, low_l, close_l, vol_l, session_l, strict=True)
    for i, (ts, o, h, lo, c, v, sess) in enumerate(columns):
        # 1. Fills of the orders sent at earlier bars.
        exit_raw = NAN
        if entry_pending:
            entry_pending = False
            entry_price = extreme = o * buy_mult
            entry_ts, qty = ts, 0.0 + entry_shares
            cash -= entry_shares * entry_price
            avg_price = (entry_price * entry_shares) / qty
            if entry_stop == entry_stop:  # its stop is live for the rest of this bar
                stop, stop_live = entry_stop, True
        if stop_live:
            if o <= stop:
                exit_raw = o  # gapped through: filled at the open
            elif lo <= stop:
                exit_raw = stop
        elif exit_pending:
            exit_raw = o
        if exit_raw == exit_raw:
            price = exit_raw * sell_mult
            cash += qty * price
            trades.append(
                PlainTrade(
                    entry_ts, entry_price, ts, price, qty, (price - avg_price) * qty, entry_level
                )
            )
            qty, avg_price, entry_level = 0.0, 0.0, NO_LEVEL
            stop_live = exit_pending = False

        # 2. ATR, then the trailing stop from this bar's high.
        if need_atr:
            pc = prev_close
            if atr_count >= atr_n:
                tr = (h if h > pc else pc) - (lo if lo < pc else pc)
                atr = (atr * atr_n1 + tr) / atr_n
            else:
                tr = (h if h > pc else pc) - (lo if lo < pc else pc) if pc == pc else h - lo
                atr_count += 1
                if atr_count < atr_n:
                    atr_sum += tr
                else:
                    atr = (atr_sum + tr) / atr_n
            prev_close = c
            if trailing and stop_live:
                if h > extreme:
                    extreme = h
                if atr == atr:
                    new_stop = round(extreme - atr_multiple * atr, 2)
                    if new_stop > stop:
                        stop = new_stop

        # 3. The strategy: volume mean of the bars before this one, the peak as of it.
        vol_before = vol_sum
        vol_sum += v
        if i >= vol_lookback:
            vol_sum -= vol_l[i - vol_lookback]
        if sess != cur_session:
            if cur_session is not None:  # a session ended: into the window
                while maxq and maxq[-1][1] < cur_high:
                    maxq.pop()
                maxq.append((sessions_done, cur_high))
                sessions_done += 1
                while maxq[0][0] <= sessions_done - 1 - lookback:
                    maxq.popleft()
                if sessions_done >= lookback:
                    prior_peak = maxq[0][1]
            peak = prior_peak
            cur_session, cur_high = sess, h
        else:
            peak = cur_high if cur_high > prior_peak else prior_peak
            if h > cur_high:
                cur_high = h
        ready = i >= warm_from
        f_signal = p_signal = NO_SIGNAL

        f_above = f_above + 1 if c > fixed_up else 0
        f_below = f_below + 1 if c < fixed_dn else 0
        if ready:
            if f_state == BELOW:
                if f_above >= n and _volume_ok(
                    v, vol_before, vol_lookback, use_volume, vol_multiple
                ):
                    f_state, f_signal = ABOVE, BREAKOUT
            elif f_state == ABOVE:
                if f_below >= n:
                    f_state, f_signal = BELOW, BREAKDOWN
            else:
                f_state = ABOVE if c > fixed else BELOW

        if peak != peak:  # fewer than `lookback` sessions yet
            p_above = p_below = 0
        else:
            if c > peak * up:
                p_above += 1
                p_refs.append(peak)
            else:
                p_above = 0
            p_below = p_below + 1 if c < (p_frozen if p_state == ABOVE else peak) * dn else 0
            if ready:
                if p_state == BELOW:
                    if p_above >= n and _volume_ok(
                        v, vol_before, vol_lookback, use_volume, vol_multiple
                    ):
                        p_state, p_frozen, p_signal = ABOVE, p_refs[0], BREAKOUT
                elif p_state == ABOVE:
                    if p_below >= n:
                        p_state, p_frozen, p_signal = BELOW, NAN, BREAKDOWN
                else:
                    p_state, p_frozen = (ABOVE if c > peak else BELOW), peak

        # 4. Risk: each signal (fixed level first) becomes an order or is refused.
        if f_signal or p_signal:
            for kind, level in ((f_signal, FIXED), (p_signal, PEAK)):
                if not kind:
                    continue
                signals += 1
                if qty != 0.0:
                    if kind == BREAKDOWN and level == entry_level and exit_on_breakdown:
                        stop_live, exit_pending = False, True  # stop cancelled, sell at market
                    continue  # otherwise: one position at a time
                if entry_pending or kind == BREAKDOWN:
                    continue  # an entry is pending / long only
                eq = cash + qty * c
                if sizing == "fixed_shares":
                    want = float(rk.fixed_shares)
                elif sizing == "fixed_notional":
                    want = rk.fixed_notional / c
                elif sizing == "percent_equity":
                    want = eq * rk.percent_equity / 100.0 / c
                else:
                    if atr != atr or atr <= 0:
                        continue
                    want = eq * rk.risk_pct / 100.0 / (atr_multiple * atr)
                cap = eq * rk.max_position_pct / 100.0 / c
                power = cash / (c * slip) if cash > 0 else 0.0
                shares = math.floor(min(want, cap, power) + 1e-9)
                if shares < 1:
                    continue
                entry_stop = NAN
                if protect:
                    if not (atr == atr and atr > 0):
                        continue  # no stop yet: refused
                    entry_stop = round(c - atr_multiple * atr, 2)
                if shares * c * slip > cash + 1e-9:
                    continue  # the broker refuses it: buying power
                entry_pending, entry_shares, entry_level = True, shares, level

        # 5. Equity at the close.
        eq_append(cash + qty * c)
    return PlainResult(trades, equity, signals)


def _volume_ok(
    volume: float, sum_before: float, lookback: int, use_volume: bool, multiple: float
) -> bool:
    """The volume rule, on the rare bars with enough confirming closes."""
    if not use_volume:
        return True
    mean = sum_before / lookback
    ratio = volume / mean if mean > 0 else math.inf
    return not ratio < multiple


def compare_trades(engine: Sequence[Trade], plain: Sequence[PlainTrade]) -> str | None:
    """None when both lists hold the same trades (times, shares and prices, exactly);
    otherwise where they first differ, in a few words."""
    for k, (e, p) in enumerate(zip(engine, plain, strict=False)):
        ours = (e.entry_ts, e.entry_price, e.exit_ts, e.exit_price, e.qty)
        theirs = (p.entry_ts, p.entry_price, p.exit_ts, p.exit_price, p.qty)
        if ours != theirs:
            return f"trade {k + 1} differs: engine {ours}, plain loop {theirs}"
    if len(engine) != len(plain):
        return f"engine {len(engine)} trades, plain loop {len(plain)}"
    return None
