"""Scenario 13 of the reliability list: out-of-order and duplicate order events.

Pushed trade updates (and REST reads) arrive late, twice, or in any order. For 10,000
random histories of one order (accepted, new, parts filled at their own prices, then
filled, cancelled or expired), every snapshot of the history is delivered to
`LiveBroker.apply_update` in a random order with random repeats. Checked against the
history itself (not against the code): the booked filled quantity never goes down and
never exceeds the order's; a final status never reverts; each part is booked once;
the end state (filled quantity, average price, booked fills) is the history's last
snapshot whatever the arrival order.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alpaca.orders import BrokerOrder
from bot.alpaca.stream import StreamEvent
from bot.broker.live import LiveBroker
from bot.live.reconcile import TERMINAL
from bot.models import OrderIntent, Side
from bot.store.state import StateStore

_SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None  # fsync is cheap in memory
STORE = StateStore(Path(tempfile.mkdtemp(dir=_SHM)) / "events.sqlite")
_IDS = itertools.count()


class NoBroker:
    """The broker is never asked: everything comes as pushed events."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no broker call expected ({name})")


def snapshot(cid: str, qty: float, status: str, filled: float, avg: float | None) -> BrokerOrder:
    return BrokerOrder(
        id=f"00000000-0000-0000-0000-{next(_IDS):012d}", client_order_id=cid, status=status,
        side="buy", qty=qty, filled_qty=filled, filled_avg_price=avg, order_type="market",
        order_class="simple", stop_price=None, limit_price=None, symbol="BABA",
    )  # fmt: skip


@st.composite
def histories(draw: st.DrawFn) -> tuple[float, list[tuple[str, float, float | None]], str]:
    qty = draw(st.integers(1, 500))
    parts = draw(st.lists(st.integers(1, 100), max_size=6))
    prices = draw(st.lists(st.floats(10, 500, allow_nan=False), min_size=len(parts) + 1,
                           max_size=len(parts) + 1))  # fmt: skip
    steps: list[tuple[str, float, float | None]] = [("accepted", 0.0, None), ("new", 0.0, None)]
    filled, cost = 0.0, 0.0
    for part, price in zip(parts, prices, strict=False):
        take = min(part, qty - filled)
        if take <= 0:
            break
        filled += take
        cost += take * round(price, 2)
        steps.append(("partially_filled", filled, cost / filled))
    end = draw(st.sampled_from(["filled", "canceled", "expired"]))
    if end == "filled" and filled < qty:
        cost += (qty - filled) * round(prices[-1], 2)
        filled = float(qty)
    if filled >= qty:
        end = "filled"
    steps.append((end, filled, cost / filled if filled else None))
    return float(qty), steps, end


@pytest.mark.slow  # 10,000 histories: about a minute
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_any_arrival_order_books_the_history_once(
    history: tuple[float, list[tuple[str, float, float | None]], str], data: st.DataObject
) -> None:
    qty, steps, end = history
    cid = f"ev-{next(_IDS)}"
    broker = LiveBroker(NoBroker(), STORE, "BABA")  # type: ignore[arg-type]
    STORE.record_intent(OrderIntent(cid, "BABA", Side.BUY, qty))
    STORE.update_order(cid, status="accepted", broker_id="x")
    events = [StreamEvent("update", s, snapshot(cid, qty, s, f, a)) for s, f, a in steps]
    arrival = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=5))
    seen_final = False
    booked = 0.0
    for ev in [*arrival, *repeats]:
        before = STORE.get_order(cid)
        assert before is not None
        for f in broker.apply_update(ev, ts=0):
            booked += f.qty
        after = STORE.get_order(cid)
        assert after is not None
        assert after.filled_qty >= before.filled_qty - 1e-9  # never goes down
        assert after.filled_qty <= qty + 1e-9
        if before.status in TERMINAL:
            assert after.status == before.status  # a final status never reverts
        seen_final = seen_final or after.status in TERMINAL
    last_status, last_filled, last_avg = steps[-1]
    rec = STORE.get_order(cid)
    assert rec is not None and seen_final
    assert rec.status == last_status == end
    assert rec.filled_qty == last_filled
    assert booked == last_filled  # every part once, however often it was delivered
    if last_avg is not None:
        assert rec.avg_price is not None and abs(rec.avg_price - last_avg) < 1e-6
