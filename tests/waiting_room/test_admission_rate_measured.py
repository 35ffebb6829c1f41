"""The fairness report's admission rate is measured only over ticks where the rate alone
held admission back: not while the seats left or the shopper cap stop it, not while sold
out or with an empty queue, nor at the tick after such a period (it spends credit banked
meanwhile). Real PostgreSQL, the ticker driven with a clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evently.waiting_room.ticker import admissions_due
from tests.waiting_room.conftest import configure_room, join, report_inventory, tick, utc
from tests.waiting_room.test_fairness_report import report

T0 = utc(2030, 1, 1, 12, 0, 0)


async def test_the_rate_achieved_leaves_out_ticks_capped_by_the_seats_left(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=120, max_active_shoppers=100)
    await tick(room, 1, T0)
    for user_id in range(1, 41):
        await join(room, tokens, 1, user_id)
    await report_inventory(room, 1, 1, sold_out=False, available=4)
    admitted = []
    for second in range(1, 21):  # 2 a second until the 4 seats are spoken for, then none
        admitted.append((await tick(room, 1, T0 + timedelta(seconds=second))).admitted)
    assert admitted[:2] == [2, 2] and sum(admitted) == 4
    await report_inventory(room, 1, 2, sold_out=False, available=100)
    for second in range(21, 31):  # seats again: 5 s of banked credit, then 2 a second
        admitted.append((await tick(room, 1, T0 + timedelta(seconds=second))).admitted)
    assert admitted[20:] == [10] + [2] * 9

    rate = (await report(room, tokens))["admission_rate"]
    # Over every admission's span (the figure before) it read 30 in 29 s: -0.48.
    assert rate["achieved_per_minute"] == pytest.approx(120.0)
    assert rate["error"] == pytest.approx(0.0, abs=1e-9)
    assert rate["capped_ticks"] == 19  # the first (nobody in line) and seconds 3-20
    # Second 2 and seconds 22-30; not 1 nor 21, which follow capped ticks.
    assert rate["measured_s"] == pytest.approx(10.0)
    assert rate["measured_admissions"] == 20


def test_a_tick_is_capped_when_something_else_stops_what_the_rate_earned():
    def due(**kw):
        args = dict(credit=0.0, elapsed_s=1.0, rate_per_minute=120, free_slots=10, waiting=10)
        return admissions_due(**{**args, "sold_out": False, **kw})

    assert not due().capped and due().count == 2
    assert due(free_slots=1).capped  # the shopper cap or the seats left
    assert due(waiting=1).capped  # the queue ran short
    assert due(waiting=0, elapsed_s=0.1).capped  # nobody to admit, even with no credit due
    assert not due(elapsed_s=0.1).capped  # less than one earned: the rate decides
    assert due(sold_out=True).capped
