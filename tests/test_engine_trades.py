"""Hand-computed trades through the real engine and SimBroker on a tiny synthetic series.

Level 100, buffers 0, one confirming close, no volume filter, no 52-week peak: a close
above 100 is a breakout, a close below 100 a breakdown. Bars (o, h, l, c):

    b0  95   96   94   95     first bar: state BELOW, no signal      TR 2
    b1  96  101   95  100.5   breakout (100.5 > 100)                 TR 6   ATR(2) = (2+6)/2 = 4
    b2 101  104  100.5 103    market entry fills at this open: 101   TR 3.5 ATR = (4+3.5)/2 = 3.75
    b3 103  106  102  105                                            TR 4   ATR = (3.75+4)/2 = 3.875
    b4 104  104.5 97  101                                            TR 7.5
    b5 100  100.2 98   99     breakdown (99 < 100)
    b6  98.5 99   97   98     exit fills at this open: 98.5

Every expected number below is worked out in the comment next to it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from bot.config_load import load_settings
from bot.engine.backtest import build_engine
from bot.models import Bar, session_day
from bot.settings import Settings

OHLC = [
    (95, 96, 94, 95),
    (96, 101, 95, 100.5),
    (101, 104, 100.5, 103),
    (103, 106, 102, 105),
    (104, 104.5, 97, 101),
    (100, 100.2, 98, 99),
    (98.5, 99, 97, 98),
]


def bars(ohlc: list[tuple[float, float, float, float]]) -> list[Bar]:
    out = []
    d = date(2024, 1, 2)
    for o, h, lo, c in ohlc:
        while d.weekday() >= 5:
            d += timedelta(days=1)
        ts = int((d - date(1970, 1, 1)).days * 86_400 + 5 * 3600) * 1_000_000_000  # midnight ET
        out.append(Bar(ts, float(o), float(h), float(lo), float(c), 1000.0, session_day(d)))
        d += timedelta(days=1)
    return out


def settings(**risk: Any) -> Settings:
    broker = risk.pop("broker", {})
    return load_settings(
        None,
        {
            "strategy": {
                "levels": [100.0],
                "use_52w_peak": False,
                "confirm_closes": 1,
                "breakout_buffer_pct": 0.0,
                "breakdown_buffer_pct": 0.0,
                "volume_multiple": 0.0,
            },
            "risk": {"sizing": "fixed_shares", "fixed_shares": 10, "atr_period": 2, **risk},
            "broker": {"initial_cash": 10_000.0, "slippage_bps": 0.0, **broker},
        },
    )


def run(s: Settings, ohlc: list[tuple[float, float, float, float]] = OHLC) -> Any:
    engine = build_engine(s)
    for b in bars(ohlc):
        engine.step(b)
    return engine


def test_entry_next_open_and_exit_on_breakdown() -> None:
    eng = run(settings())
    (t,) = eng.portfolio.trades
    assert (t.entry_price, t.exit_price, t.qty) == (101.0, 98.5, 10)
    assert t.entry_time.date() == date(2024, 1, 4)  # b2
    assert t.exit_time.date() == date(2024, 1, 10)  # b6
    assert t.pnl == pytest.approx((98.5 - 101) * 10)  # -25
    assert eng.portfolio.cash == pytest.approx(10_000 - 25)


def test_fill_at_close_model() -> None:
    eng = run(settings(broker={"fill_at": "close"}))
    (t,) = eng.portfolio.trades
    # entry at b1's close 100.5, exit at b5's close 99
    assert (t.entry_price, t.exit_price) == (100.5, 99.0)
    assert t.pnl == pytest.approx(-15.0)


def test_commission_and_slippage() -> None:
    s = settings(broker={"commission_per_share": 0.01, "commission_min": 1.0, "slippage_bps": 10.0})
    (t,) = run(s).portfolio.trades
    # buy 101 * 1.001 = 101.101; sell 98.5 * 0.999 = 98.4015; commission max(10*0.01, 1) = 1 each
    assert t.entry_price == pytest.approx(101.101)
    assert t.exit_price == pytest.approx(98.4015)
    assert t.commission == pytest.approx(2.0)
    assert t.pnl == pytest.approx((98.4015 - 101.101) * 10 - 2.0)  # -28.995


@pytest.mark.parametrize(
    ("risk", "qty"),
    [
        ({"sizing": "fixed_shares", "fixed_shares": 7}, 7),
        ({"sizing": "fixed_notional", "fixed_notional": 3000.0}, 29),  # 3000/100.5 = 29.85
        ({"sizing": "percent_equity", "percent_equity": 50.0}, 49),  # 5000/100.5 = 49.75
        # risk 1% of 10,000 = 100 over 2 x ATR(2) at b1 = 2 x 4 = 8 -> 12.5 -> 12
        ({"sizing": "risk", "risk_pct": 1.0, "atr_multiple": 2.0, "stop_loss": True}, 12),
        # cap: 10% of equity = 1000 / 100.5 = 9.95 -> 9 even though 100 shares asked
        ({"sizing": "fixed_shares", "fixed_shares": 100, "max_position_pct": 10.0}, 9),
        # buying power: 10,000 / 100.5 = 99.5 -> 99 (max position 100% of equity)
        ({"sizing": "fixed_shares", "fixed_shares": 500, "max_position_pct": 100.0}, 99),
    ],
)
def test_sizing_modes(risk: dict[str, Any], qty: int) -> None:
    eng = run(settings(**risk), OHLC[:3])
    assert eng.portfolio.qty == qty


def test_stop_hit_intrabar() -> None:
    # stop = b1 close 100.5 - 2 x ATR 4 = 92.5; b3' trades down to 92 from an open of 98
    ohlc = [*OHLC[:3], (98, 99, 92, 100.2)]
    (t,) = run(settings(stop_loss=True, atr_multiple=2.0), ohlc).portfolio.trades
    assert t.exit_price == 92.5
    assert t.pnl == pytest.approx((92.5 - 101) * 10)  # -85
    assert "stop" in t.exit_reason


def test_stop_gapped_through_fills_at_open() -> None:
    ohlc = [*OHLC[:3], (90, 91, 89, 100.2)]  # opens below the 92.5 stop
    (t,) = run(settings(stop_loss=True, atr_multiple=2.0), ohlc).portfolio.trades
    assert t.exit_price == 90.0
    assert t.pnl == pytest.approx(-110.0)


def test_stop_with_slippage() -> None:
    ohlc = [*OHLC[:3], (98, 99, 92, 100.2)]
    s = settings(stop_loss=True, atr_multiple=2.0, broker={"slippage_bps": 100.0})
    (t,) = run(s, ohlc).portfolio.trades
    assert t.entry_price == pytest.approx(101 * 1.01)
    assert t.exit_price == pytest.approx(92.5 * 0.99)  # a stop becomes a market order


def test_trailing_stop() -> None:
    # after b2: highest high 104, ATR 3.75 -> stop max(92.5, 104 - 7.5) = 96.5
    # after b3: highest high 106, ATR 3.875 -> stop 106 - 7.75 = 98.25
    # b4 trades down to 97: stopped at 98.25
    eng = run(settings(trailing_stop=True, atr_multiple=2.0))
    (t,) = eng.portfolio.trades
    assert t.exit_price == 98.25
    assert t.exit_time.date() == date(2024, 1, 8)  # b4
    assert t.pnl == pytest.approx((98.25 - 101) * 10)  # -27.5


def test_fixed_stop_not_hit_then_breakdown_cancels_it() -> None:
    eng = run(settings(stop_loss=True, atr_multiple=2.0))
    (t,) = eng.portfolio.trades
    assert t.exit_price == 98.5  # breakdown exit at b6 open; the 92.5 stop never traded
    assert eng.broker.open_orders() == []  # the protective stop was cancelled with the exit
    assert eng.portfolio.qty == 0


def test_take_profit() -> None:
    # take profit 4% over the b1 close: 100.5 x 1.04 = 104.52; b2 high 104 < 104.52,
    # b3 opens 103 and trades to 106: filled at the limit 104.52
    (t,) = run(settings(take_profit_pct=4.0)).portfolio.trades
    assert t.exit_price == pytest.approx(104.52)
    assert t.pnl == pytest.approx((104.52 - 101) * 10)


def test_take_profit_gap_fills_at_open() -> None:
    ohlc = [*OHLC[:3], (110, 112, 109, 111)]  # gaps above the 104.52 limit
    (t,) = run(settings(take_profit_pct=4.0), ohlc).portfolio.trades
    assert t.exit_price == 110.0


def test_short_selling_behind_switch() -> None:
    # b0 starts ABOVE 100, b1 breaks down (99), b3 breaks out again (101)
    ohlc = [
        (101, 102, 100.5, 101),
        (101, 101, 98, 99),
        (98, 99, 96, 97),
        (97, 101.5, 96.5, 101),
        (102, 103, 101, 102),
    ]
    long_only = run(settings(), ohlc)
    # long-only: the breakdown opens nothing; the b3 breakout buys at b4's open 102
    assert long_only.portfolio.trades == []
    assert (long_only.portfolio.qty, long_only.portfolio.avg_price) == (10, 102.0)
    assert any("long-only" in r.reason for r in long_only.record.rejections)
    eng = run(settings(allow_short=True), ohlc)
    (t,) = eng.portfolio.trades
    # short at b2 open 98, breakout at b3 (close 101) -> cover at b4 open 102
    assert (t.side, t.entry_price, t.exit_price) == ("short", 98.0, 102.0)
    assert t.pnl == pytest.approx((98 - 102) * 10)


def test_refused_signal_is_recorded_with_reason() -> None:
    s = settings(sizing="fixed_notional", fixed_notional=50.0)  # 50 / 100.5 < 1 share
    eng = run(s, OHLC[:3])
    assert eng.portfolio.qty == 0
    (rej,) = eng.record.rejections
    assert "0 shares" in rej.reason and "breakout" in rej.what


def test_client_order_ids_are_deterministic() -> None:
    a = run(settings()).record.intents
    b = run(settings()).record.intents
    assert [i.client_order_id for i in a] == [i.client_order_id for i in b]
    assert a[0].client_order_id == "lb-BABA-r100-20240103T0000-buy"
    assert all(len(i.client_order_id) <= 128 for i in a)


def test_gap_through_take_profit_beats_stop_in_the_same_bar() -> None:
    # stop 92.5 and take-profit 104.52 both in range of a bar that opens at 106 and
    # falls to 90: the open reaches the take-profit first, so it fills at 106.
    ohlc = [*OHLC[:3], (106, 107, 90, 95)]
    (t,) = run(settings(stop_loss=True, take_profit_pct=4.0), ohlc).portfolio.trades
    assert t.exit_price == 106.0
    assert "take-profit" in t.exit_reason


def test_stop_first_when_both_inside_the_bar() -> None:
    # opens between them (100), trades to 105 and to 92: stop first (conservative)
    ohlc = [*OHLC[:3], (100, 105, 92, 99.5)]
    (t,) = run(settings(stop_loss=True, take_profit_pct=4.0), ohlc).portfolio.trades
    assert t.exit_price == 92.5
