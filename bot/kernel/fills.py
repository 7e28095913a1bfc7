"""Trading the signals, compiled: risk, the SimBroker's fills and the booking of a span.

`trade` steps bars [start, stop) as `Engine.step` does with a `SimBroker`, for the
signals a strategy's kernel found (`bot.kernel.run.Signals`: bar, tag, side), and records
what the engine records: the equity and the position at every close, and the closed
trades. Per bar, in the engine's order:
1. fills of the orders sent earlier (bot/broker/matching.py): a market order at the open;
   a bracket's stop-loss and take-profit, live from the entry's fill on (the rest of
   that bar included), a stop at the open when the bar gaps through it, else at the
   stop, a take-profit at the open when the bar opens beyond it, else at its limit; the
   one met at the open first, else the stop first; the other one cancelled (OCO); market
   and stop fills `slippage_bps` worse, limits not; commissions per share with a minimum;
2. the trailing stop from the bar's high (a short's: its low), never loosened;
3. each signal of the bar (bot/engine/risk.py): the exit of the position's own tag
   (its protection cancelled, a market order), otherwise one position at a time, no
   entry while one is pending, long only unless shorts are allowed; sizing (fixed
   shares, fixed notional, percent of equity, risk over the ATR stop), capped by
   `max_position_pct` and buying power, whole shares; the initial stop and the
   take-profit rounded to cents; the broker's buying-power check; with `fill_at =
   "close"` a market order fills at the signal bar's close;
4. equity = cash + position x close.
The booking is `Portfolio.apply`'s arithmetic in its order; prices are rounded to cents
by `round_cents`, Python's `round(x, 2)` (correctly rounded, half to even on the exact
binary value: numba's own `round` multiplies by 100 first and differs on rare prices).
Outside a position with no order working, a bar without a signal changes nothing but the
equity: such stretches are filled in at once (the sweep's `Engine.skip` does the same).
"""

from __future__ import annotations

import math

import numpy as np

from bot.kernel.jit import jit

# A compiled function keeps what it calls and the constants it reads from other modules
# in numba's cache, which a change to those modules does not invalidate: everything this
# module's functions use is defined here.
_SPLIT = 134217729.0  # 2**27 + 1: Dekker's split of a double into two 26-bit halves

# Sizing rules (`ints[I_SIZING]`).
FIXED_SHARES, FIXED_NOTIONAL, PERCENT_EQUITY, RISK = range(4)
# Integer parameters.
I_SIZING, I_STOP_LOSS, I_TRAILING, I_EXIT_ON_BREAKDOWN, I_SHORT, I_AT_CLOSE = range(6)
# Float parameters.
(
    F_CASH,
    F_FIXED_SHARES,
    F_NOTIONAL,
    F_PERCENT,
    F_RISK_PCT,
    F_ATR_MULTIPLE,
    F_MAX_POSITION,
    F_TAKE_PROFIT,
    F_PER_SHARE,
    F_COMMISSION_MIN,
    F_SLIPPAGE,
) = range(11)
# How a trade ended (`exit_kind`).
BY_SIGNAL, BY_STOP, BY_TAKE_PROFIT = range(3)
# Columns of the trades table.
T_ENTRY_BAR, T_EXIT_BAR, T_SIDE, T_LEVEL, T_EXIT_KIND = range(5)  # int columns
T_ENTRY_PRICE, T_EXIT_PRICE, T_QTY, T_PNL, T_COMMISSION = range(5)  # float columns


@jit
def trade(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    atr: np.ndarray,
    sig_bar: np.ndarray,
    sig_tag: np.ndarray,
    sig_side: np.ndarray,
    start: int,
    stop: int,
    ints: np.ndarray,
    floats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(equity, position, trades' int columns, trades' float columns, signals) of
    bars [start, stop)."""
    sizing = ints[I_SIZING]
    trailing = ints[I_TRAILING] != 0
    protect = ints[I_STOP_LOSS] != 0 or trailing
    exit_on_breakdown = ints[I_EXIT_ON_BREAKDOWN] != 0
    allow_short = ints[I_SHORT] != 0
    at_close = ints[I_AT_CLOSE] != 0
    multiple = floats[F_ATR_MULTIPLE]
    take_pct = floats[F_TAKE_PROFIT]
    per_share, minimum = floats[F_PER_SHARE], floats[F_COMMISSION_MIN]
    bps = floats[F_SLIPPAGE]
    slip = 1.0 + bps / 10_000.0  # what risk's buying power and the broker's check allow for

    span = stop - start
    equity = np.empty(span)
    position = np.empty(span)
    j = np.searchsorted(sig_bar, start)  # the next signal
    n_sig = np.searchsorted(sig_bar, stop)
    # Every trade opens on a signal of the span: that many rows are enough.
    t_int = np.empty((n_sig - j, 5), np.int64)
    t_float = np.empty((n_sig - j, 5))
    n_trades = 0
    signals = 0

    cash, qty, avg = floats[F_CASH], 0.0, 0.0
    lot_qty, lot_price, lot_comm, lot_bar, lot_level = 0.0, 0.0, 0.0, 0, -1
    entry_level = -1  # the level (tag) of the position, or of the entry pending
    # The entry pending (a market order): side +1 buy / -1 sell, shares, bracket prices.
    pending, p_side, p_qty, p_stop, p_take = False, 0, 0.0, math.nan, math.nan
    exiting = False  # an exit market order working
    sl_on, sl_price, tp_on, tp_price = False, 0.0, False, 0.0
    extreme = 0.0

    i = start
    while i < stop:
        # Flat with nothing working: nothing happens until the next signal.
        if not pending and qty == 0.0:
            nxt = sig_bar[j] if j < n_sig else stop
            if nxt > i:
                equity[i - start : nxt - start] = cash
                position[i - start : nxt - start] = qty
                i = nxt
                continue
        o, h, lo, c = open_[i], high[i], low[i], close[i]
        a = atr[i]
        # 1. Fills of the orders sent at earlier bars: an entry, then its legs.
        done, out_price, out_kind = False, 0.0, BY_SIGNAL
        if pending:
            pending = False
            cash, qty, avg, price, fee = _open(o, p_side, p_qty, bps, per_share, minimum, cash)
            lot_qty, lot_price, lot_comm, lot_bar, lot_level = qty, price, fee, i, entry_level
            sl_on, sl_price = p_stop == p_stop, p_stop
            tp_on, tp_price = p_take == p_take, p_take
            extreme = price
        if exiting:
            exiting = False
            done, out_price = True, _slipped(o, -1 if qty > 0 else 1, bps)
        elif sl_on or tp_on:
            long = qty > 0
            sl_raw, tp_raw = math.nan, math.nan
            if sl_on:
                if long:
                    sl_raw = o if o <= sl_price else (sl_price if lo <= sl_price else math.nan)
                else:
                    sl_raw = o if o >= sl_price else (sl_price if h >= sl_price else math.nan)
            if tp_on:
                if long:
                    tp_raw = o if o >= tp_price else (tp_price if h >= tp_price else math.nan)
                else:
                    tp_raw = o if o <= tp_price else (tp_price if lo <= tp_price else math.nan)
            use_sl = sl_raw == sl_raw
            if use_sl and tp_raw == tp_raw:
                # Met at the open first, then in placement order (the stop was placed first).
                use_sl = not (sl_raw != o and tp_raw == o)
            if use_sl:
                done, out_price, out_kind = True, _slipped(sl_raw, -1 if long else 1, bps), BY_STOP
            elif tp_raw == tp_raw:
                done, out_price, out_kind = True, tp_raw, BY_TAKE_PROFIT  # a limit: no slippage
        if done:
            cash, qty, avg, lot_qty, lot_comm = _close(
                t_int, t_float, n_trades, i, out_kind, out_price, per_share, minimum,
                cash, qty, avg, lot_qty, lot_price, lot_comm, lot_bar, lot_level,
            )  # fmt: skip
            n_trades += 1
            entry_level = -1
            sl_on = tp_on = False
        # 2. The trailing stop, with this bar's ATR.
        if trailing and sl_on:
            if qty > 0:
                extreme = max(extreme, h)
                if a == a:
                    sl_price = max(sl_price, round_cents(extreme - multiple * a))
            else:
                extreme = min(extreme, lo)
                if a == a:
                    sl_price = min(sl_price, round_cents(extreme + multiple * a))
        # 3.-4. The signals of this bar.
        while j < n_sig and sig_bar[j] == i:
            level, enters = sig_tag[j], int(sig_side[j])
            j += 1
            signals += 1
            if qty != 0.0:
                held = 1 if qty > 0 else -1
                if -enters == held and level == entry_level and exit_on_breakdown:
                    sl_on = tp_on = False  # protection cancelled, then the exit sent
                    if at_close:
                        cash, qty, avg, lot_qty, lot_comm = _close(
                            t_int, t_float, n_trades, i, BY_SIGNAL, _slipped(c, -held, bps),
                            per_share, minimum, cash, qty, avg, lot_qty, lot_price, lot_comm,
                            lot_bar, lot_level,
                        )  # fmt: skip
                        n_trades += 1
                        entry_level = -1
                    else:
                        exiting = True
                continue  # otherwise one position at a time
            if pending or (enters < 0 and not allow_short):
                continue
            eq = cash + qty * c
            if sizing == FIXED_SHARES:
                want = floats[F_FIXED_SHARES]
            elif sizing == FIXED_NOTIONAL:
                want = floats[F_NOTIONAL] / c
            elif sizing == PERCENT_EQUITY:
                want = eq * floats[F_PERCENT] / 100.0 / c
            else:
                if a != a or a <= 0:
                    continue
                want = eq * floats[F_RISK_PCT] / 100.0 / (multiple * a)
            limit = eq * floats[F_MAX_POSITION] / 100.0 / c
            power = cash / (c * slip) if cash > 0 else 0.0
            shares = math.floor(min(want, limit, power) + 1e-9)
            if shares < 1:
                continue
            sign = 1.0 if enters > 0 else -1.0
            p_stop = math.nan
            if a == a and a > 0:
                p_stop = round_cents(c - sign * multiple * a)
            elif protect:
                continue  # no ATR yet for the stop
            if not protect:
                p_stop = math.nan
            p_take = round_cents(c * (1 + sign * take_pct / 100.0)) if take_pct > 0 else math.nan
            entry_level = level
            if enters > 0 and shares * c * slip > cash + 1e-9:
                continue  # the broker refuses it: buying power
            p_side, p_qty = enters, float(shares)
            if not at_close:
                pending = True
                continue
            # Filled at once, at the close.
            cash, qty, avg, price, fee = _open(c, enters, p_qty, bps, per_share, minimum, cash)
            lot_qty, lot_price, lot_comm, lot_bar, lot_level = qty, price, fee, i, level
            sl_on, sl_price = p_stop == p_stop, p_stop
            tp_on, tp_price = p_take == p_take, p_take
            extreme = price
        # 5. The close.
        equity[i - start] = cash + qty * c
        position[i - start] = qty
        i += 1
    return equity, position, t_int[:n_trades].copy(), t_float[:n_trades].copy(), signals


@jit
def round_cents(x: float) -> float:
    """`round(x, 2)` as Python computes it (the double nearest the correctly rounded
    two-decimal value, ties to even on the exact value of x)."""
    y = x * 100.0
    if not abs(y) < 4.0e15:  # too large for cents to matter (and NaN, inf): as Python
        return x
    # The exact product x * 100 = y + e (Dekker: 100 needs 7 bits, the halves of x 26).
    t = _SPLIT * x
    hi = t - (t - x)
    lo = x - hi
    e = (hi * 100.0 - y) + lo * 100.0
    f = math.floor(y)
    d = (y - f) - 0.5  # exact: y - f is y's fraction, a multiple of y's last bit
    if d > 0.0 or (d == 0.0 and e > 0.0):
        r = f + 1.0
    elif d < 0.0 or e < 0.0:
        r = f
    else:  # exactly half a cent: to even
        r = f if f % 2.0 == 0.0 else f + 1.0
    return r / 100.0


@jit
def _slipped(raw: float, side: int, bps: float) -> float:
    """A market or stop fill's price, `bps` worse for the trader (`with_slippage`)."""
    if bps == 0:
        return raw
    k = bps / 10_000.0
    return raw * (1 + k) if side > 0 else raw * (1 - k)


@jit
def _fee(qty: float, per_share: float, minimum: float) -> float:
    if per_share == 0 and minimum == 0:
        return 0.0
    return max(abs(qty) * per_share, minimum)


@jit
def _open(
    raw: float, side: int, shares: float, bps: float, per_share: float, minimum: float, cash: float
) -> tuple[float, float, float, float, float]:
    """Book the fill that opens a position from flat (`Portfolio.apply`); returns (cash,
    signed quantity, average price, fill price, commission) after it."""
    price = _slipped(raw, side, bps)
    fee = _fee(shares, per_share, minimum)
    signed = shares if side > 0 else -shares
    cash = cash - (signed * price + fee)
    # (avg x qty + price x signed) / (qty + signed) with qty = avg = 0, as Portfolio has it
    avg = (0.0 * 0.0 + price * signed) / (0.0 + signed)
    return cash, signed, avg, price, fee


@jit
def _close(
    t_int: np.ndarray,
    t_float: np.ndarray,
    row: int,
    bar: int,
    kind: int,
    price: float,
    per_share: float,
    minimum: float,
    cash: float,
    qty: float,
    avg: float,
    lot_qty: float,
    lot_price: float,
    lot_comm: float,
    lot_bar: int,
    lot_level: int,
) -> tuple[float, float, float, float, float]:
    """Book the fill that closes the whole position (`Portfolio.apply`), as trade `row`;
    returns (cash, qty, avg, lot_qty, lot_comm) after it."""
    size = abs(qty)
    fee = _fee(size, per_share, minimum)
    signed = size if qty < 0 else -size
    cash = cash - (signed * price + fee)
    closing = min(abs(signed), abs(qty))
    direction = 1.0 if qty > 0 else -1.0
    gross = (price - avg) * closing * direction
    entry_comm = lot_comm * (closing / abs(lot_qty))
    t_int[row, T_ENTRY_BAR] = lot_bar
    t_int[row, T_EXIT_BAR] = bar
    t_int[row, T_SIDE] = 1 if direction > 0 else -1
    t_int[row, T_LEVEL] = lot_level
    t_int[row, T_EXIT_KIND] = kind
    t_float[row, T_ENTRY_PRICE] = lot_price
    t_float[row, T_EXIT_PRICE] = price
    t_float[row, T_QTY] = closing
    t_float[row, T_PNL] = gross - entry_comm - fee
    t_float[row, T_COMMISSION] = entry_comm + fee
    qty = qty + signed
    lot_comm = lot_comm - entry_comm
    if abs(qty) < 1e-9:
        return cash, 0.0, 0.0, 0.0, lot_comm
    return cash, qty, avg, qty, lot_comm
