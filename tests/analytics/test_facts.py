"""Analytics builds its facts only from outbox messages, exactly once, newest version wins."""

from __future__ import annotations

import copy

from prometheus_client import REGISTRY

from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings, event_changed, message, now
from tests.conftest import INTERNAL_API_KEY


async def report(client, tokens, event_id: int) -> dict:
    response = await client.get(
        f"/api/v1/admin/analytics/events/{event_id}", headers=tokens.admin()
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def play_sales_script(client) -> ScriptedBookings:
    """Holds, confirms, cancels (held and confirmed), an expiry and waitlist offers."""
    shop = ScriptedBookings(event_id=41, capacity=10, unit_price="49.90")
    messages = [event_changed(41, capacity=10, price="49.90")]
    b1, m = shop.hold(2)
    messages += m + shop.confirm(b1)
    b2, m = shop.hold(3)
    messages += m + shop.confirm(b2) + shop.cancel(b2)
    b3, m = shop.hold(1)
    messages += m + shop.cancel(b3)
    b4, m = shop.hold(2)
    messages += m + shop.expire(b4)
    _b5, m = shop.hold(1)
    messages += m
    e1, m = shop.join_waitlist(2)
    messages += m
    e2, m = shop.join_waitlist(1)
    messages += m
    e3, m = shop.join_waitlist(1)
    messages += m + shop.leave(e3) + shop.offer(e1)
    b6, m = shop.convert(e1)
    messages += m + shop.confirm(b6) + shop.offer(e2) + shop.expire_offer(e2)
    acknowledged = await deliver(client, messages)
    assert sorted(acknowledged) == sorted(m["id"] for m in messages)
    return shop


async def test_scripted_sales_give_seat_booking_and_waitlist_figures(analytics, tokens):
    await play_sales_script(analytics)

    figures = await report(analytics, tokens, 41)

    assert (figures["capacity"], figures["sold"], figures["held"], figures["available"]) == (
        10,
        4,
        1,
        5,
    )
    assert figures["seats_source"] == "inventory"
    assert figures["utilization"] == 0.5
    assert figures["sell_through"] == 0.4
    assert figures["revenue_by_currency"] == {"EUR": "199.60"}
    assert figures["bookings"] == {
        "holds_placed": 6,
        "confirmed": 3,
        "cancelled": 2,
        "expired": 1,
        "active_holds": 1,
        "tickets_sold": 4,
        "tickets_held": 1,
        "tickets_cancelled": 4,
        "tickets_expired": 2,
    }
    assert figures["hold_to_confirm_conversion"] == 0.5
    waitlist = figures["waitlist"]
    assert (waitlist["joins"], waitlist["offers"], waitlist["conversions"]) == (3, 2, 1)
    assert (waitlist["offer_expirations"], waitlist["left"]) == (1, 1)
    assert waitlist["offer_conversion"] == 0.5
    assert waitlist["entries_by_status"] == {"converted": 1, "expired": 1, "left": 1}


async def test_redelivered_messages_change_nothing(analytics, tokens):
    shop = ScriptedBookings(event_id=42, capacity=5)
    booking, held = shop.hold(2)
    messages = [event_changed(42, capacity=5), *held, *shop.confirm(booking)]
    await deliver(analytics, messages)
    before = await report(analytics, tokens, 42)

    acknowledged = await deliver(analytics, messages)

    assert sorted(acknowledged) == sorted(m["id"] for m in messages)
    after = await report(analytics, tokens, 42)
    assert after["bookings"] == before["bookings"]
    assert after["revenue_by_currency"] == {"EUR": "99.80"}
    assert after["sold"] == 2


async def test_an_older_version_arriving_late_is_ignored(analytics, tokens):
    shop = ScriptedBookings(event_id=43, capacity=5)
    booking, held = shop.hold(1)
    confirmed = shop.confirm(booking)
    await deliver(analytics, [event_changed(43, capacity=5), *held, *confirmed])

    # The same states re-sent as new messages (new ids), older than what analytics holds.
    stale = []
    for original in held:
        copied = copy.deepcopy(original)
        copied["id"] = original["id"] + 10_000_000
        stale.append(copied)
    await deliver(analytics, [*stale, event_changed(43, version=0, capacity=99)])

    figures = await report(analytics, tokens, 43)
    assert figures["bookings"]["tickets_sold"] == 1
    assert figures["bookings"]["active_holds"] == 0
    assert (figures["sold"], figures["held"], figures["capacity"]) == (1, 0, 5)


async def test_a_malformed_message_is_not_acknowledged_and_holds_back_its_key(analytics):
    shop = ScriptedBookings(event_id=44, capacity=5)
    booking, _ = shop.hold(1)
    broken = message("bookings", "booking.changed", booking, 9, {"transition": "held"})
    later_same_key = shop.confirm(booking)[0]
    other_key = shop.inventory()

    acknowledged = await deliver(analytics, [broken, later_same_key, other_key])

    assert acknowledged == [other_key["id"]]


async def test_the_inbox_needs_the_internal_key(analytics):
    response = await analytics.post(
        "/internal/inbox",
        json={"source": "bookings", "messages": []},
        headers={"X-Internal-Key": INTERNAL_API_KEY[:-1] + "x"},
    )
    assert response.status == 401
    assert (await response.json())["code"] == "internal_key_required"


async def test_seats_come_from_booking_facts_until_inventory_arrives(analytics, tokens):
    shop = ScriptedBookings(event_id=45, capacity=8)
    booking, held = shop.hold(3)
    confirmed = shop.confirm(booking)
    other, held_again = shop.hold(2)
    # Only the booking.changed messages: no inventory.changed yet.
    only_bookings = [m for m in [*held, *confirmed, *held_again] if m["topic"] == "booking.changed"]
    await deliver(analytics, [event_changed(45, capacity=8), *only_bookings])

    figures = await report(analytics, tokens, 45)

    assert figures["seats_source"] == "bookings"
    assert (figures["capacity"], figures["sold"], figures["held"], figures["available"]) == (
        8,
        3,
        2,
        3,
    )
    assert other in shop.bookings


def checked_in(ticket_id: int, event_id: int, gate: str, at: str) -> dict:
    """A ticket.checked_in message as bookings' relay sends it."""
    payload = {
        "schema_version": 1,
        "ticket_id": ticket_id,
        "event_id": event_id,
        "booking_id": ticket_id // 10,
        "seat": ticket_id % 10,
        "gate": gate,
        "checked_in_at": at,
    }
    return message("bookings", "ticket.checked_in", ticket_id, 1, payload)


async def test_check_ins_are_counted_per_gate_once_each_against_tickets_sold(analytics, tokens):
    await play_sales_script(analytics)  # event 41: 4 tickets sold
    messages = [
        checked_in(4101, 41, "north", "2031-06-01T18:00:05+00:00"),
        checked_in(4102, 41, "north", "2031-06-01T18:01:00+00:00"),
        checked_in(4111, 41, "south", "2031-06-01T18:02:30+00:00"),
        checked_in(4201, 42, "north", "2031-06-01T18:03:00+00:00"),  # another event
    ]
    # The same check-in delivered again under a new message id (a replayed outbox row).
    replay = checked_in(4101, 41, "east", "2031-06-01T18:09:00+00:00")
    await deliver(analytics, [*messages, replay, copy.deepcopy(messages[0])])

    figures = await report(analytics, tokens, 41)
    assert figures["checkins"] == {
        "checked_in": 3,
        "check_in_rate": 0.75,
        "by_gate": {"north": 2, "south": 1},
        "last_checked_in_at": "2031-06-01T18:02:30Z",
    }
    # An event analytics knows only from a check-in still has a report.
    other = await report(analytics, tokens, 42)
    assert other["checkins"]["checked_in"] == 1 and other["checkins"]["check_in_rate"] is None


async def test_refund_changed_is_accepted_and_counted_but_changes_no_figure(analytics, tokens):
    shop = ScriptedBookings(event_id=45, capacity=5)
    booking, held = shop.hold(2)
    await deliver(analytics, [event_changed(45, capacity=5), *held, *shop.confirm(booking)])
    before = await report(analytics, tokens, 45)
    at = now().isoformat()
    refund = {
        "id": 1,
        "booking_id": booking,
        "event_id": 45,
        "user_id": 7,
        "reason": "booking_cancelled",
        "amount": "99.80",
        "currency": "EUR",
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }
    created = message(
        "bookings",
        "refund.changed",
        1,
        1,
        {"schema_version": 1, "transition": "created", "at": at, "refund": refund},
    )

    counted = {"topic": "refund.changed", "outcome": "counted"}
    counted_before = REGISTRY.get_sample_value("evently_analytics_facts_applied_total", counted)

    assert await deliver(analytics, [created]) == [created["id"]]
    assert await deliver(analytics, [created]) == [created["id"]]  # a redelivery
    assert (
        REGISTRY.get_sample_value("evently_analytics_facts_applied_total", counted)
        == (counted_before or 0) + 1
    )
    after = await report(analytics, tokens, 45)
    for moving in ("as_of", "timeline"):
        del before[moving], after[moving]
    assert after == before
