"""GET /api/v1/bookings shows each booking's event (name, start, venue) from bookings'
own copy of event.changed: no request to the events service, none per event."""

from __future__ import annotations

from datetime import datetime

from tests.bookings.conftest import event_payload, send_event

VENUE = {"id": 9, "name": "Arena", "address": "2 Side St", "city": "Lyon", "capacity": 900}


async def listed_events(me) -> list[dict | None]:
    status, page = await me.get("/api/v1/bookings")
    assert status == 200, page
    return [item["event"] for item in page["items"]]


async def test_each_booking_shows_its_events_name_start_and_venue(client, buyer):
    await send_event(client, 1, name="Night Show", venue=VENUE)
    await send_event(client, 2)
    me = buyer(7)
    for event_id in (1, 2):
        assert (await me.hold(event_id, 1))[0] == 201
    hall, night_show = await listed_events(me)  # newest first
    assert hall["name"] == "Event 2"
    assert hall["venue"] == {"name": "Hall", "city": "Berlin"}
    assert night_show["name"] == "Night Show"
    assert night_show["venue"] == {"name": "Arena", "city": "Lyon"}
    sent = datetime.fromisoformat(event_payload(1)["starts_at"])
    shown = datetime.fromisoformat(night_show["starts_at"])
    assert abs((shown - sent).total_seconds()) < 60  # the payload helper's "in 30 days"


async def test_a_newer_event_changed_renames_it_and_an_older_one_does_not(client, buyer):
    await send_event(client, 1, version=1, name="Old name")
    me = buyer(7)
    assert (await me.hold(1, 1))[0] == 201
    await send_event(client, 1, version=3, name="New name")
    await send_event(client, 1, version=2, name="Stale name")
    assert [e["name"] for e in await listed_events(me)] == ["New name"]


async def test_an_event_without_a_summary_shows_null(client, buyer, db):
    """An event unchanged since the upgrade that added summaries."""
    await send_event(client, 1)
    me = buyer(7)
    assert (await me.hold(1, 1))[0] == 201
    await db.execute("DELETE FROM bookings.event_summaries WHERE event_id = 1")
    assert await listed_events(me) == [None]
