"""Seated events, the events side: an event pins a map version, its capacity is the
map's sellable seats, event.changed names the map, and the public sees the map."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from evently.core.contracts import EventChanged, parse
from tests.events.conftest import event_body
from tests.events.seating import new_map, new_venue, new_version
from tests.events.test_admin_events import ADMIN_EVENTS, create, outbox_rows
from tests.events.test_seat_map_rules import small_map


@pytest.fixture
async def seat_map(client, tokens) -> dict:
    """A venue with the small map (7 seats, 6 sellable) as version 1."""
    venue = await new_venue(client, tokens)
    return await new_map(client, tokens, venue["id"])


def seated(seat_map: dict, version: int = 1, **overrides) -> dict:
    body = event_body(venue=None, venue_id=seat_map["venue_id"], max_per_user=2, **overrides)
    body.pop("capacity")
    body["seating"] = {"map_id": seat_map["map_id"], "map_version": version}
    return body


async def post(client, tokens, body: dict):
    return await client.post(ADMIN_EVENTS, json=body, headers=tokens.admin())


async def put(client, tokens, event: dict, body: dict):
    return await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=body,
        headers=tokens.admin() | {"If-Match": f'"{event["version"]}"'},
    )


async def test_a_seated_events_capacity_is_its_maps_sellable_seats(client, tokens, seat_map, db):
    response = await post(client, tokens, seated(seat_map))
    assert response.status == 201, await response.text()
    event = await response.json()
    assert event["capacity"] == 6  # 7 seats, one blocked
    assert event["seating"] == {
        "map_id": seat_map["map_id"],
        "map_version": 1,
        "zone_prices": {},
        "channels": {},
    }
    (row,) = await outbox_rows(db, event["id"])
    message = parse(EventChanged, row["payload"])
    assert message.seating is not None and message.seating.map_id == seat_map["map_id"]
    assert message.capacity == 6


async def test_a_capacity_equal_to_the_sellable_seats_is_accepted_and_any_other_refused(
    client, tokens, seat_map
):
    assert (await post(client, tokens, {**seated(seat_map), "capacity": 6})).status == 201
    response = await post(client, tokens, {**seated(seat_map), "name": "B", "capacity": 5})
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.capacity"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body, other: body["seating"].update(map_version=9), "body.seating"),
        (lambda body, other: body["seating"].update(map_id=other), "body.seating.map_id"),
        (lambda body, other: body.update(max_per_user=7), "body.max_per_user"),
    ],
)
async def test_a_seated_event_needs_an_existing_version_of_its_own_venues_map(
    client, tokens, seat_map, db, change, field
):
    elsewhere = await new_venue(client, tokens, name="Elsewhere")
    other = await new_map(client, tokens, elsewhere["id"])
    body = seated(seat_map)
    change(body, other["map_id"])
    response = await post(client, tokens, body)
    assert response.status == 400, await response.text()
    assert (await response.json())["errors"][0]["field"] == field
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0


async def test_general_admission_still_needs_a_capacity(client, tokens):
    body = event_body()
    body.pop("capacity")
    response = await post(client, tokens, body)
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.capacity"


async def test_the_embedded_venue_form_works_for_seated_events(client, tokens):
    event = await create(client, tokens)  # upserts the venue "Grand Hall", Berlin
    info = await new_map(client, tokens, event["venue"]["id"])
    body = event_body(name="Seated at the Grand Hall")
    body.pop("capacity")
    body["seating"] = {"map_id": info["map_id"], "map_version": 1}
    response = await post(client, tokens, body)
    assert response.status == 201, await response.text()
    assert (await response.json())["capacity"] == 6


async def test_a_seated_event_never_exceeds_its_venues_capacity(client, tokens):
    event = await create(client, tokens)  # the embedded "Grand Hall", capacity 500
    info = await new_map(client, tokens, event["venue"]["id"])
    body = event_body(name="Seated", venue={**event_body()["venue"], "capacity": 5})
    body.pop("capacity")
    body["seating"] = {"map_id": info["map_id"], "map_version": 1}  # 6 sellable seats
    response = await post(client, tokens, body)
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.capacity"


async def test_an_event_keeps_its_version_until_repinned_which_is_a_new_event_version(
    client, tokens, seat_map, db
):
    event = await (await post(client, tokens, seated(seat_map))).json()
    bigger = small_map()
    bigger["sections"][0]["rows"][1]["seats"][0]["flags"] = []  # unblock B-1
    await new_version(client, tokens, seat_map["map_id"], bigger)
    unchanged = await (
        await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    ).json()
    assert unchanged["seating"]["map_version"] == 1 and unchanged["version"] == 1
    same = await put(client, tokens, event, seated(seat_map))
    assert same.status == 200 and (await same.json())["version"] == 1  # nothing changed
    response = await put(client, tokens, event, seated(seat_map, version=2))
    assert response.status == 200, await response.text()
    repinned = await response.json()
    assert repinned["version"] == 2 and repinned["capacity"] == 7
    rows = await outbox_rows(db, event["id"])
    assert rows[-1]["payload"]["seating"] == {
        "map_id": seat_map["map_id"],
        "map_version": 2,
        "zone_prices": {},
        "channels": {},
    }


async def test_seating_cannot_change_once_seats_are_sold_or_held(client, tokens, seat_map, sell):
    event = await create(client, tokens, venue=None, venue_id=seat_map["venue_id"], capacity=6)
    await sell(event["id"], sold=1, held=1)
    response = await put(client, tokens, event, seated(seat_map))
    assert response.status == 409
    problem = await response.json()
    assert problem["code"] == "seating_change_refused"
    assert (problem["sold"], problem["held"]) == (1, 1)
    stored = await (
        await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    ).json()
    assert stored["seating"] is None and stored["version"] == 1


async def test_a_general_admission_event_becomes_seated_while_nothing_is_sold(
    client, tokens, seat_map
):
    event = await create(client, tokens, venue=None, venue_id=seat_map["venue_id"], capacity=6)
    response = await put(client, tokens, event, seated(seat_map))
    assert response.status == 200, await response.text()
    assert (await response.json())["seating"]["map_version"] == 1


async def test_the_public_sees_a_seated_events_map_as_json_and_svg(client, tokens, seat_map):
    event = await (await post(client, tokens, seated(seat_map))).json()
    document = await client.get(f"/api/v1/events/{event['id']}/seat-map")
    assert document.status == 200
    body = await document.json()
    assert (body["map_id"], body["version"]) == (seat_map["map_id"], 1)
    assert body["document"]["name"] == "Small Hall"
    drawing = await client.get(f"/api/v1/events/{event['id']}/seat-map.svg")
    assert drawing.status == 200 and drawing.content_type == "image/svg+xml"
    assert len([e for e in ET.fromstring(await drawing.text()).iter() if e.get("data-seat")]) == 7


async def test_general_admission_and_draft_events_have_no_public_map(client, tokens, seat_map):
    general = await create(client, tokens)
    response = await client.get(f"/api/v1/events/{general['id']}/seat-map.svg")
    assert response.status == 404 and (await response.json())["code"] == "event_not_seated"
    draft = await (await post(client, tokens, seated(seat_map, status="draft"))).json()
    hidden = await client.get(f"/api/v1/events/{draft['id']}/seat-map")
    assert hidden.status == 404 and (await hidden.json())["code"] == "event_not_found"


def test_an_older_event_changed_without_seating_parses_as_general_admission():
    payload = {
        "id": 1, "version": 1, "name": "Old", "description": "", "type": "concert",
        "status": "published", "starts_at": "2026-12-24T19:00:00Z",
        "ends_at": "2026-12-24T22:00:00Z", "capacity": 10, "price": "1.00",
        "currency": "EUR", "sale_opens_at": None, "sale_closes_at": None,
        "max_per_user": 2, "hold_ttl_seconds": 600, "waitlist_enabled": True,
        "waitlist_offer_ttl_seconds": 900, "managed_by": None, "created_by": None,
        "created_at": "2026-11-26T10:00:00Z", "updated_at": "2026-11-26T10:00:00Z",
        "venue": {"id": 7, "name": "Hall", "address": "1 St", "city": "Berlin", "capacity": 50},
    }  # fmt: skip
    assert parse(EventChanged, payload).seating is None
