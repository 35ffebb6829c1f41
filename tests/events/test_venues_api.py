"""Venues as a resource: the admin API, the public read, events naming a venue by id,
and the migration that replaced the free-form layout (docs/seating.md)."""

from __future__ import annotations

import asyncpg
import pytest

from evently.core import migrations
from evently.events import venues
from tests.events.conftest import event_body
from tests.events.seating import ADMIN_VENUES, new_venue, venue_details
from tests.events.test_admin_events import ADMIN_EVENTS, create, outbox_rows


async def test_create_returns_the_venue_with_version_etag_and_location(client, tokens):
    response = await client.post(ADMIN_VENUES, json=venue_details(), headers=tokens.admin())
    assert response.status == 201, await response.text()
    venue = await response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{ADMIN_VENUES}/{venue['id']}"
    assert venue["name"] == "Opera House" and venue["capacity"] == 2000
    assert venue["version"] == 1 and venue["legacy_layout"] is None and venue["seat_maps"] == []


async def test_the_same_name_and_city_in_any_case_is_a_409_naming_the_venue(client, tokens):
    first = await new_venue(client, tokens)
    response = await client.post(
        ADMIN_VENUES, json=venue_details(name="OPERA house", city="vienna"), headers=tokens.admin()
    )
    assert response.status == 409
    problem = await response.json()
    assert problem["code"] == "venue_exists" and problem["venue_id"] == first["id"]


async def test_admin_and_public_reads_and_unknown_venue(client, tokens):
    venue = await new_venue(client, tokens)
    admin = await client.get(f"{ADMIN_VENUES}/{venue['id']}", headers=tokens.admin())
    assert admin.status == 200 and admin.headers["ETag"] == '"1"'
    public = await client.get(f"/api/v1/venues/{venue['id']}")
    assert public.status == 200
    body = await public.json()
    assert body["name"] == "Opera House" and "legacy_layout" not in body
    missing = await client.get("/api/v1/venues/999999")
    assert missing.status == 404 and (await missing.json())["code"] == "venue_not_found"


async def test_only_admins_manage_venues(client, tokens):
    response = await client.post(ADMIN_VENUES, json=venue_details(), headers=tokens.customer(5))
    assert response.status == 403
    assert (await client.get(ADMIN_VENUES)).status == 401


async def test_list_filters_by_city_in_any_case_and_pages(client, tokens):
    for name in ("A", "B", "C"):
        await new_venue(client, tokens, name=name, city="Vienna")
    await new_venue(client, tokens, name="D", city="Graz")
    response = await client.get(
        f"{ADMIN_VENUES}?city=VIENNA&limit=2&page=2", headers=tokens.admin()
    )
    assert response.status == 200
    page = await response.json()
    assert page["total"] == 3 and [v["name"] for v in page["items"]] == ["C"]
    bad = await client.get(f"{ADMIN_VENUES}?limit=0", headers=tokens.admin())
    assert bad.status == 400 and (await bad.json())["errors"][0]["field"] == "query.limit"


async def put_venue(client, tokens, venue_id: int, if_match: str | None, **changes):
    headers = tokens.admin() | ({"If-Match": if_match} if if_match else {})
    return await client.put(
        f"{ADMIN_VENUES}/{venue_id}", json=venue_details(**changes), headers=headers
    )


async def test_replacing_a_venue_needs_if_match_and_refuses_a_stale_one(client, tokens):
    venue = await new_venue(client, tokens)
    assert (await put_venue(client, tokens, venue["id"], None, capacity=3000)).status == 428
    stale = await put_venue(client, tokens, venue["id"], '"7"', capacity=3000)
    assert stale.status == 412 and (await stale.json())["current_version"] == 1
    done = await put_venue(client, tokens, venue["id"], '"1"', capacity=3000)
    assert done.status == 200 and done.headers["ETag"] == '"2"'
    assert (await done.json())["capacity"] == 3000


async def test_replacing_a_venue_gives_each_of_its_events_a_new_version_and_message(
    client, tokens, db
):
    venue = await new_venue(client, tokens)
    event = await create(client, tokens, venue=None, venue_id=venue["id"])
    assert event["venue"]["id"] == venue["id"]
    response = await put_venue(client, tokens, venue["id"], "*", address="9 New Street")
    assert response.status == 200, await response.text()
    rows = await outbox_rows(db, event["id"])
    assert [row["version"] for row in rows] == [1, 2]
    assert rows[-1]["payload"]["venue"]["address"] == "9 New Street"
    # The same details again change nothing: no version, no message.
    again = await put_venue(client, tokens, venue["id"], '"2"', address="9 New Street")
    assert again.status == 200 and again.headers["ETag"] == '"2"'
    assert len(await outbox_rows(db, event["id"])) == 2


async def test_a_venue_cannot_shrink_below_an_event_or_take_anothers_name(client, tokens):
    venue = await new_venue(client, tokens)
    await new_venue(client, tokens, name="Other")
    await create(client, tokens, venue=None, venue_id=venue["id"], capacity=500)
    small = await put_venue(client, tokens, venue["id"], "*", capacity=499)
    assert small.status == 400
    assert (await small.json())["errors"][0]["field"] == "body.capacity"
    taken = await put_venue(client, tokens, venue["id"], "*", name="other")
    assert taken.status == 409 and (await taken.json())["code"] == "venue_exists"


async def test_an_embedded_venue_change_bumps_the_venues_version(client, tokens):
    event = await create(client, tokens)
    venue_id = event["venue"]["id"]
    await create(client, tokens, name="Second", venue={**event_body()["venue"], "address": "X"})
    response = await client.get(f"{ADMIN_VENUES}/{venue_id}", headers=tokens.admin())
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"venue": None, "venue_id": 999999}, "body.venue_id"),
        ({}, "body.venue"),  # both
        ({"venue": None, "venue_id": None}, "body.venue"),  # neither
        ({"venue": None, "capacity": 2001}, "body.capacity"),  # above the venue's 2000
    ],
)
async def test_an_event_names_an_existing_venue_by_id_or_embeds_one(
    client, tokens, db, overrides, field
):
    venue = await new_venue(client, tokens)
    body = event_body(**{"venue_id": venue["id"], **overrides})
    response = await client.post(ADMIN_EVENTS, json=body, headers=tokens.admin())
    assert response.status == 400, await response.text()
    assert field in [error["field"] for error in (await response.json())["errors"]]
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0


async def test_an_old_free_form_layout_is_kept_as_legacy_layout_and_an_empty_one_dropped(
    databases, tmp_path
):
    dsn = await databases.create(migrated=False)
    conn = await asyncpg.connect(dsn)
    try:
        folder = tmp_path / "migrations"
        folder.mkdir()
        (tmp_path / "sql").mkdir()
        for migration in migrations.discover("events"):
            if migration.version <= 4:
                (folder / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
        await migrations.migrate(conn, "events", "events", folder)
        await conn.execute(
            """INSERT INTO events.venues (name, address, city, capacity, layout) VALUES
               ('Old Hall', '1 Road', 'Oslo', 100, '{"sections": ["stalls"]}'),
               ('Bare Hall', '2 Road', 'Oslo', 100, '{}')"""
        )
        await migrations.migrate(conn, "events", "events")
        rows = await conn.fetch("SELECT id, name FROM events.venues ORDER BY id")
        old = await venues.get_venue(conn, rows[0]["id"])
        bare = await venues.get_venue(conn, rows[1]["id"])
    finally:
        await conn.close()
        await databases.drop(dsn)
    assert old.legacy_layout == {"sections": ["stalls"]} and old.version == 1
    assert bare.legacy_layout is None
