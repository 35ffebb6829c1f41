"""Per-zone prices and channel allocations of a seated event, the events side
(docs/seating.md, "Zone prices", "Channel allocations"): set in ``seating``, shown on the
event, carried by ``event.changed``; a zone the map version does not sell, a negative
price, or a channel seat that is not a sellable seat (or is in two channels) is 422
naming the field."""

from __future__ import annotations

import pytest

from evently.core.contracts import EventChanged, parse
from tests.conftest import INTERNAL_API_KEY
from tests.events.seating import new_map, new_venue
from tests.events.test_admin_events import ADMIN_EVENTS, outbox_rows
from tests.events.test_seated_events import post, put, seated


@pytest.fixture
async def seat_map(client, tokens) -> dict:
    """A venue with the small map (zones premium and standard) as version 1."""
    venue = await new_venue(client, tokens)
    return await new_map(client, tokens, venue["id"])


def priced(seat_map: dict, **prices: str) -> dict:
    body = seated(seat_map)
    body["seating"]["zone_prices"] = prices
    return body


async def test_zone_prices_are_stored_shown_and_announced(client, tokens, seat_map, db):
    response = await post(client, tokens, priced(seat_map, premium="89.5", standard="39.00"))

    assert response.status == 201, await response.text()
    event = await response.json()
    assert event["seating"]["zone_prices"] == {"premium": "89.50", "standard": "39.00"}
    (row,) = await outbox_rows(db, event["id"])
    message = parse(EventChanged, row["payload"])
    assert message.seating is not None
    assert {z: str(p) for z, p in message.seating.zone_prices.items()} == {
        "premium": "89.50",
        "standard": "39.00",
    }


async def test_changing_a_zone_price_alone_is_a_new_event_version(client, tokens, seat_map, db):
    event = await (await post(client, tokens, priced(seat_map, premium="89.00"))).json()

    same = await put(client, tokens, event, priced(seat_map, premium="89.00"))
    assert same.status == 200 and (await same.json())["version"] == 1
    response = await put(client, tokens, event, priced(seat_map, premium="95.00"))

    assert response.status == 200, await response.text()
    changed = await response.json()
    assert changed["version"] == 2 and changed["seating"]["zone_prices"] == {"premium": "95.00"}
    rows = await outbox_rows(db, event["id"])
    assert rows[-1]["payload"]["seating"]["zone_prices"] == {"premium": "95.00"}


async def test_an_unknown_zone_or_a_negative_price_is_422_naming_it_and_changes_nothing(
    client, tokens, seat_map, db
):
    response = await post(client, tokens, priced(seat_map, gold="10.00", premium="-1.00"))

    assert response.status == 422, await response.text()
    problem = await response.json()
    assert problem["code"] == "invalid_zone_prices"
    assert sorted(e["field"] for e in problem["errors"]) == [
        "body.seating.zone_prices.gold",
        "body.seating.zone_prices.premium",
    ]
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0

    event = await (await post(client, tokens, priced(seat_map, premium="10.00"))).json()
    response = await put(client, tokens, event, priced(seat_map, standard="-0.01"))
    assert response.status == 422
    assert [e["field"] for e in (await response.json())["errors"]] == [
        "body.seating.zone_prices.standard"
    ]
    stored = await (
        await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    ).json()
    assert stored["seating"]["zone_prices"] == {"premium": "10.00"} and stored["version"] == 1


def with_channels(seat_map: dict, **channels: list[str]) -> dict:
    body = seated(seat_map)
    body["seating"]["channels"] = channels
    return body


async def test_channel_allocations_are_stored_shown_and_announced(client, tokens, seat_map, db):
    body = with_channels(seat_map, **{"promoter-x": ["vip-1", "stalls-A-3"]})
    response = await post(client, tokens, body)

    assert response.status == 201, await response.text()
    event = await response.json()
    assert event["seating"]["channels"] == {"promoter-x": ["stalls-A-3", "vip-1"]}
    (row,) = await outbox_rows(db, event["id"])
    assert parse(EventChanged, row["payload"]).seating.channels == {
        "promoter-x": ["stalls-A-3", "vip-1"]
    }
    released = await put(client, tokens, event, with_channels(seat_map))
    assert released.status == 200 and (await released.json())["version"] == 2
    assert (await released.json())["seating"]["channels"] == {}


async def test_the_public_event_hides_its_channel_allocations(client, tokens, seat_map):
    body = with_channels(seat_map, **{"promoter-x": ["vip-1"]})
    event = await (await post(client, tokens, body)).json()

    public = await (await client.get(f"/api/v1/events/{event['id']}")).json()
    listed = await (await client.get("/api/v1/events")).json()
    customer = await client.get(f"/api/v1/events/{event['id']}", headers=tokens.customer())

    assert public["seating"] == {"map_id": seat_map["map_id"], "map_version": 1, "zone_prices": {}}
    assert [item["seating"] for item in listed["items"]] == [public["seating"]]
    assert "channels" not in (await customer.json())["seating"]
    admin = await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    assert (await admin.json())["seating"]["channels"] == {"promoter-x": ["vip-1"]}
    internal = await client.get(
        f"/internal/events/{event['id']}", headers={"X-Internal-Key": INTERNAL_API_KEY}
    )
    assert internal.status == 200, await internal.text()
    assert (await internal.json())["seating"]["channels"] == {"promoter-x": ["vip-1"]}


async def test_a_channel_seat_that_is_unknown_blocked_or_taken_twice_is_422_naming_it(
    client, tokens, seat_map, db
):
    body = with_channels(
        seat_map, a=["vip-1", "nope"], b=["stalls-B-1", "vip-1"]
    )  # stalls-B-1 is blocked
    response = await post(client, tokens, body)

    assert response.status == 422, await response.text()
    problem = await response.json()
    assert problem["code"] == "invalid_channels"
    assert [e["field"] for e in problem["errors"]] == [
        "body.seating.channels.a.1",
        "body.seating.channels.b.0",
        "body.seating.channels.b.1",
    ]
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0
