"""The public catalogue: list, filters, sorting, pagination, one event, live availability."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evently.core.db import POOL
from evently.events.models import EventInput
from evently.events.repository import create_event
from tests.events.conftest import NOW, event_body, venue

EVENTS = "/api/v1/events"


async def add(db, name: str, *, days: int = 30, **overrides) -> int:
    """Create an event through the repository; ``days`` from now to its start."""
    starts = NOW + timedelta(days=days)
    body = event_body(
        name=name,
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=3)).isoformat(),
        sale_closes_at=starts.isoformat(),
        **overrides,
    )
    return (await create_event(db, EventInput.model_validate(body))).id


async def listed(client, **params) -> dict:
    response = await client.get(EVENTS, params=params)
    assert response.status == 200, await response.text()
    return await response.json()


def names(page: dict) -> list[str]:
    return [e["name"] for e in page["items"]]


@pytest.fixture
async def catalogue(db) -> dict[str, int]:
    """Six events: three cities, three types, prices 10-60, one draft, one cancelled."""
    ids = {
        "berlin-concert": await add(db, "berlin-concert", days=10, price="10.00"),
        "berlin-sports": await add(
            db, "berlin-sports", days=20, price="60.00", type="sports",
            venue=venue("Arena", "Berlin"),
        ),
        "paris-concert": await add(
            db, "paris-concert", days=30, price="30.00", venue=venue("Olympia", "Paris")
        ),
        "paris-theatre": await add(
            db, "paris-theatre", days=40, price="20.00", type="theatre",
            venue=venue("Odeon", "Paris"),
        ),
        "lisbon-concert": await add(
            db, "lisbon-concert", days=50, price="50.00", venue=venue("Coliseu", "Lisbon")
        ),
        "draft": await add(db, "draft", days=15, status="draft"),
    }  # fmt: skip
    from evently.events.repository import cancel_event

    ids["cancelled"] = await add(db, "cancelled", days=25)
    await cancel_event(db, ids["cancelled"])
    return ids


async def test_lists_only_published_events_by_start_time(client, catalogue):
    page = await listed(client)
    assert names(page) == [
        "berlin-concert", "berlin-sports", "paris-concert", "paris-theatre", "lisbon-concert",
    ]  # fmt: skip
    assert (page["total"], page["page"], page["limit"]) == (5, 1, 20)
    assert "created_by" not in page["items"][0]
    assert page["items"][0]["venue"]["city"] == "Berlin"


async def test_an_empty_catalogue_is_an_empty_page(client):
    assert await listed(client) == {"items": [], "total": 0, "page": 1, "limit": 20}


async def test_pagination_edges(client, catalogue):
    first = await listed(client, limit=2)
    assert names(first) == ["berlin-concert", "berlin-sports"] and first["total"] == 5
    last = await listed(client, limit=2, page=3)
    assert names(last) == ["lisbon-concert"] and last["total"] == 5
    beyond = await listed(client, limit=2, page=4)
    assert beyond["items"] == [] and beyond["total"] == 5 and beyond["page"] == 4
    exact = await listed(client, limit=5)
    assert len(exact["items"]) == 5
    assert len((await listed(client, limit=100))["items"]) == 5


BAD_PARAMETERS = [
    ({"limit": "0"}, "query.limit"),
    ({"limit": "101"}, "query.limit"),
    ({"limit": "ten"}, "query.limit"),
    ({"page": "0"}, "query.page"),
    ({"page": "-1"}, "query.page"),
    ({"sort": "name"}, "query.sort"),
    ({"from": "yesterday"}, "query.from"),
    ({"to": "2026-13-01"}, "query.to"),
    ({"min_price": "cheap"}, "query.min_price"),
    ({"max_price": "-5"}, "query.max_price"),
    ({"available": "maybe"}, "query.available"),
    ({"colour": "red"}, "query.colour"),
    ({"status": "draft"}, "query.status"),  # admin-only filter
    ({"from": "2030-02-01", "to": "2030-01-01"}, "query.to"),
    ({"min_price": "50", "max_price": "10"}, "query.max_price"),
    ({"currency": "euro"}, "query.currency"),
    ({"from": "2030-01-01T10:00:00"}, "query.from"),  # no timezone
]


async def test_unknown_or_malformed_parameters_are_400_naming_the_parameter(client, subtests):
    for params, field in BAD_PARAMETERS:
        with subtests.test(params=params):
            response = await client.get(EVENTS, params=params)
            assert response.status == 400, await response.text()
            problem = await response.json()
            assert problem["code"] == "validation_failed"
            assert [e["field"] for e in problem["errors"]] == [field]
            assert field.removeprefix("query.") in problem["detail"]


async def test_filters_by_city_case_insensitively(client, catalogue):
    assert names(await listed(client, city="paris")) == ["paris-concert", "paris-theatre"]


async def test_filters_by_type(client, catalogue):
    assert names(await listed(client, type="concert")) == [
        "berlin-concert", "paris-concert", "lisbon-concert",
    ]  # fmt: skip


async def test_filters_by_date_range_inclusive_and_whole_days(client, catalogue):
    start = (NOW + timedelta(days=20)).date().isoformat()
    end = (NOW + timedelta(days=40)).date().isoformat()
    assert names(await listed(client, **{"from": start, "to": end})) == [
        "berlin-sports", "paris-concert", "paris-theatre",
    ]  # fmt: skip
    exact = (NOW + timedelta(days=30)).isoformat()
    assert names(await listed(client, **{"from": exact, "to": exact})) == ["paris-concert"]


async def test_filters_by_price_range_inclusive(client, catalogue):
    page = await listed(client, min_price="20", max_price="50.00")
    assert names(page) == ["paris-concert", "paris-theatre", "lisbon-concert"]


async def test_filters_combine(client, catalogue):
    page = await listed(client, city="Paris", type="concert", max_price="40", currency="EUR")
    assert names(page) == ["paris-concert"]
    none = await listed(client, city="Berlin", type="theatre")
    assert none == {"items": [], "total": 0, "page": 1, "limit": 20}
    venue_id = (await listed(client, city="Lisbon"))["items"][0]["venue"]["id"]
    assert names(await listed(client, venue_id=venue_id, sort="-price")) == ["lisbon-concert"]


SORTS = [
    (
        "starts_at",
        ["berlin-concert", "berlin-sports", "paris-concert", "paris-theatre", "lisbon-concert"],
    ),
    (
        "-starts_at",
        ["lisbon-concert", "paris-theatre", "paris-concert", "berlin-sports", "berlin-concert"],
    ),
    (
        "price",
        ["berlin-concert", "paris-theatre", "paris-concert", "lisbon-concert", "berlin-sports"],
    ),
    (
        "-price",
        ["berlin-sports", "lisbon-concert", "paris-concert", "paris-theatre", "berlin-concert"],
    ),
]


async def test_sorts_by_start_time_or_price(client, catalogue, subtests):
    for sort, expected in SORTS:
        with subtests.test(sort=sort):
            assert names(await listed(client, sort=sort)) == expected


async def test_pages_of_a_sorted_list_neither_skip_nor_repeat(client, db):
    for i in range(7):
        await add(db, f"same-{i}", days=10, price="10.00")  # identical sort keys
    seen = []
    for page in range(1, 5):
        seen += names(await listed(client, sort="price", limit=2, page=page))
    assert sorted(seen) == [f"same-{i}" for i in range(7)]


async def test_available_filter_uses_bookings_inventory_figures(client, catalogue, db):
    """Events bookings reports as full drop out of available=true; unknown ones stay in."""
    full, partial = catalogue["berlin-concert"], catalogue["paris-concert"]
    await db.execute(
        "INSERT INTO events.availability (event_id, version, capacity, sold, held, available, "
        "on_sale, sold_out, status) VALUES ($1, 3, 100, 90, 10, 0, true, true, 'published'), "
        "($2, 1, 100, 10, 0, 90, true, false, 'published')",
        full,
        partial,
    )
    available = names(await listed(client, available="true"))
    assert "berlin-concert" not in available and "paris-concert" in available
    assert len(available) == 4
    assert names(await listed(client, available="false")) == ["berlin-concert"]


async def test_get_one_published_event_with_its_venue(client, catalogue):
    response = await client.get(f"{EVENTS}/{catalogue['paris-theatre']}")
    assert response.status == 200
    event = await response.json()
    assert event["name"] == "paris-theatre"
    assert event["venue"]["name"] == "Odeon" and event["venue"]["city"] == "Paris"
    assert "layout" not in event["venue"] and "created_by" not in event
    assert event["seating"] is None  # general admission
    assert response.headers["ETag"] == '"1"'


async def test_unknown_or_malformed_ids_are_404(client, subtests):
    for path in ["999999", "abc", "0", "-1", "99999999999999999999"]:
        with subtests.test(path=path):
            response = await client.get(f"{EVENTS}/{path}")
            assert response.status == 404
            assert response.content_type == "application/problem+json"


async def test_drafts_are_not_public(client, catalogue):
    assert (await client.get(f"{EVENTS}/{catalogue['draft']}")).status == 404
    assert (await client.get(f"{EVENTS}/{catalogue['draft']}/availability")).status == 404


# --- availability ------------------------------------------------------------------


async def test_availability_before_bookings_has_inventory_is_the_whole_capacity(client, db):
    """Pins the contract with the real bookings app: its 404 (no inventory for the
    event yet) means nothing is sold or held."""
    event_id = await add(db, "fresh")
    response = await client.get(f"{EVENTS}/{event_id}/availability")
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert await response.json() == {
        "event_id": event_id,
        "capacity": 100,
        "sold": 0,
        "held": 0,
        "available": 100,
        "on_sale": True,
        "sold_out": False,
        "waitlisted": 0,
        "status": "published",
    }


async def test_availability_outside_the_sale_window_is_not_on_sale(client, db):
    later = (NOW + timedelta(days=5)).isoformat()
    event_id = await add(db, "later", sale_opens_at=later)
    figures = await (await client.get(f"{EVENTS}/{event_id}/availability")).json()
    assert figures["on_sale"] is False and figures["available"] == 100


async def test_availability_relays_bookings_figures(client, sell, db):
    event_id = await add(db, "busy")
    await sell(event_id, sold=10, held=5)
    response = await client.get(f"{EVENTS}/{event_id}/availability")
    assert response.status == 200
    figures = await response.json()
    assert (figures["sold"], figures["held"], figures["available"]) == (10, 5, 85)
    assert figures["on_sale"] is True and figures["sold_out"] is False


async def test_availability_when_bookings_fails_is_503(client, real_bookings, db):
    event_id = await add(db, "busy")
    await real_bookings.app[POOL].close()  # bookings' database is gone: it answers 503
    response = await client.get(f"{EVENTS}/{event_id}/availability")
    assert response.status == 503
    assert (await response.json())["code"] == "bookings_unavailable"


async def test_availability_of_an_unknown_event_is_404(client):
    assert (await client.get(f"{EVENTS}/424242/availability")).status == 404
