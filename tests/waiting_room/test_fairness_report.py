"""The fairness report, from a real room: its order, winners, rate, waits, abandoned
tickets, refusals and the shuffle proof (docs/waiting-room.md, "Fairness report")."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

import pytest

from evently.core.db import POOL
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.waiting_room.conftest import bearer, configure_room, join, tick
from tests.waiting_room.test_prequeue_shuffle import order_by_documented_algorithm

REPORT = "/api/v1/admin/events/{}/waiting-room/report"


async def report(room, tokens, event_id: int = 1) -> dict:
    response = await room.get(REPORT.format(event_id), headers=tokens.admin())
    assert response.status == 200, await response.text()
    return await response.json()


async def buy(room, bookings: ScriptedBookings, user_id: int, *, then: str) -> None:
    """Deliver bookings' booking.changed messages: a hold, then ``then`` (or nothing)."""
    booking_id, messages = bookings.hold(1, user_id=user_id)
    if then == "confirm":
        messages += bookings.confirm(booking_id)
    elif then == "expire":
        messages += bookings.expire(booking_id)
    # Only booking.changed: the scripted inventory figures are not the room's business here.
    await deliver(room, [m for m in messages if m["topic"] == "booking.changed"])


async def user_at(room, position: int) -> int:
    return await room.app[POOL].fetchval(
        "SELECT user_id FROM waiting_room.tickets WHERE event_id = 1 AND position = $1", position
    )


@pytest.fixture
async def sale(room, tokens):
    """Four pre-queue joiners (users 1-4), the shuffle at T, four later joiners (5-8),
    then one admission a second from T+1 to T+6 (6 shopper slots)."""
    await configure_room(room, 1, admission_rate_per_minute=60, max_active_shoppers=6,
                         session_ttl_s=30)  # fmt: skip
    for user_id in (1, 2, 3, 4):
        await join(room, tokens, 1, user_id)
    t = datetime.now(UTC)
    assert (await tick(room, 1, t)).shuffled == 4
    for user_id in (5, 6, 7, 8):
        await join(room, tokens, 1, user_id)
    admitted = [(await tick(room, 1, t + timedelta(seconds=s))).admitted for s in range(1, 7)]
    assert admitted == [1] * 6
    return t


async def test_the_report_measures_order_rate_and_waits_of_a_sale(room, tokens, sale):
    body = await report(room, tokens)
    assert body["visitors"] == 8 and body["prequeued"] == 4 and body["admitted"] == 6
    order = body["arrival_vs_admission"]
    # The pre-queue ties at the opening, then 5 and 6 in arrival order: ranks worked out
    # by hand (x = 2.5 x4, 5, 6 against y = 1..6).
    assert order["spearman"] == pytest.approx(12.5 / math.sqrt(12.5 * 17.5))
    assert order["spearman_after_opening"] == pytest.approx(1.0)
    rate = body["admission_rate"]
    # Five admissions after the first tick's, over five seconds.
    assert rate["configured_per_minute"] == 60
    assert rate["achieved_per_minute"] == pytest.approx(60.0)
    assert rate["error"] == pytest.approx(0.0, abs=1e-9)
    waits = body["waiting_time"]
    # The pre-queue arrived at the opening: positions 1-4 waited 1, 2, 3, 4 s.
    assert waits["admitted"] == 6 and waits["p50_s"] == pytest.approx(3.0)
    assert 5.0 < waits["max_s"] <= 6.0 and waits["p99_s"] == waits["max_s"]
    assert body["abandoned"]["still_waiting"] == 2
    assert body["winners"] == {"visitors_with_seats": 0, "first_k_with_seats": 0,
                               "fifo_fidelity": None}  # fmt: skip


async def test_fifo_fidelity_counts_who_of_the_first_arrivals_bought(room, tokens, sale):
    bookings = ScriptedBookings(event_id=1, capacity=100)
    first, second, third = [await user_at(room, p) for p in (1, 2, 3)]
    await buy(room, bookings, first, then="confirm")
    await buy(room, bookings, second, then="confirm")
    await buy(room, bookings, third, then="expire")  # held, never paid
    await buy(room, bookings, 5, then="confirm")  # position 5
    await buy(room, bookings, 99, then="confirm")  # no queue ticket at all
    body = await report(room, tokens)
    # K = 3 winners; the first three arrivals (the shuffled pre-queue) hold two of them.
    assert body["winners"] == {"visitors_with_seats": 3, "first_k_with_seats": 2,
                               "fifo_fidelity": pytest.approx(2 / 3)}  # fmt: skip
    assert body["refusals"]["buyers_without_ticket"] == 1

    # Sessions end at T+36 at the latest (the three buyers' on their purchase); at T+40
    # users 7 and 8 get their turn.
    tick_result = await tick(room, 1, sale + timedelta(seconds=40))
    assert (tick_result.expired, tick_result.completed, tick_result.admitted) == (3, 3, 2)
    abandoned = (await report(room, tokens))["abandoned"]
    # Position 4 and user 6 were admitted and never held; 7 and 8 shop and have not yet.
    assert abandoned == {"admitted_never_held": 2, "shopping_without_hold": 2,
                         "still_waiting": 0}  # fmt: skip


async def test_a_redelivered_booking_message_is_counted_once(room, tokens, sale):
    bookings = ScriptedBookings(event_id=1, capacity=100)
    first = await user_at(room, 1)
    booking_id, held = bookings.hold(1, user_id=first)
    confirmed = bookings.confirm(booking_id)
    messages = [m for m in held + confirmed if m["topic"] == "booking.changed"]
    await deliver(room, messages)
    await deliver(room, messages)
    row = await room.app[POOL].fetchrow(
        "SELECT held, confirmed, cancelled, expired FROM waiting_room.buyers "
        "WHERE event_id = 1 AND user_id = $1",
        first,
    )
    assert dict(row) == {"held": 1, "confirmed": 1, "cancelled": 0, "expired": 0}


async def test_the_report_lets_anyone_rerun_the_shuffle(room, tokens, sale):
    shuffle = (await report(room, tokens))["shuffle"]
    seed = bytes.fromhex(shuffle["seed"])
    assert hashlib.sha256(seed).hexdigest() == shuffle["seed_commitment"]
    prequeue = shuffle["prequeue"]
    stored = await room.app[POOL].fetch(
        "SELECT id, position FROM waiting_room.tickets WHERE event_id = 1 AND prequeue"
    )
    assert {(t["ticket_id"], t["position"]) for t in prequeue} == {
        (r["id"], r["position"]) for r in stored
    }
    by_position = [t["ticket_id"] for t in sorted(prequeue, key=lambda t: t["position"])]
    assert by_position == order_by_documented_algorithm(seed, [t["ticket_id"] for t in prequeue])
    assert -1.0 <= shuffle["spearman_join_vs_position"] <= 1.0


async def test_the_seed_stays_secret_in_the_report_until_the_shuffle(room, tokens):
    await configure_room(room, 1)
    await join(room, tokens, 1, 1)
    shuffle = (await report(room, tokens))["shuffle"]
    assert shuffle["seed"] is None and shuffle["prequeue"][0]["position"] is None


async def test_refused_joins_are_counted_per_room_and_code(room, tokens):
    opens = datetime.now(UTC) + timedelta(hours=1)
    await configure_room(
        room, 2, prequeue_opens_at=opens.isoformat(), sale_opens_at=opens + timedelta(hours=1)
    )
    for user_id in (1, 2):
        response = await room.post(
            "/api/v1/events/2/waiting-room/join", headers=bearer(tokens, user_id)
        )
        assert response.status == 409
    no_room = await room.post("/api/v1/events/3/waiting-room/join", headers=bearer(tokens, 1))
    assert no_room.status == 404
    refusals = (await report(room, tokens, 2))["refusals"]
    assert refusals["joins_refused"] == {"waiting_room_not_open": 2}
    assert refusals["total"] == 2 and refusals["not_counted"]
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.join_refusals") == 1


async def test_the_report_is_for_admins_only(room, tokens):
    await configure_room(room, 1)
    assert (await room.get(REPORT.format(1))).status == 401
    assert (await room.get(REPORT.format(1), headers=tokens.customer())).status == 403
    missing = await room.get(REPORT.format(404), headers=tokens.admin())
    assert missing.status == 404
    assert (await missing.json())["code"] == "waiting_room_not_found"
