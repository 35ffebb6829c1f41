"""Seat maps through the HTTP API: upload, validation refusals, versions, the
rectangular builder, the SVG drawing and bookings' internal read (docs/seating.md)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from evently.core.seat_maps import SeatMapDocument
from evently.events.seating_routes import SEAT_MAP_MAX_BYTES
from evently.gateway.routing import service_for
from tests.conftest import INTERNAL_API_KEY
from tests.events.seating import ADMIN_MAPS, ADMIN_VENUES, new_map, new_venue, new_version
from tests.events.test_seat_map_rules import small_map

RECTANGLE = {
    "name": "Rectangle",
    "sections": 2,
    "rows": 4,
    "seats_per_row": 5,
    "zones": [
        {"zone": {"id": "all", "name": "All", "color": "#123456"}, "from_row": 1, "to_row": 4}
    ],
}


async def test_an_upload_becomes_version_1_with_its_counts(client, tokens, db):
    venue = await new_venue(client, tokens)
    response = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps", json=small_map(), headers=tokens.admin(9)
    )
    assert response.status == 201, await response.text()
    info = await response.json()
    assert response.headers["Location"] == f"{ADMIN_MAPS}/{info['map_id']}/versions/1"
    assert info["version"] == 1 and info["venue_id"] == venue["id"] and info["source"] == "upload"
    assert info["stats"] == {
        "seats": 7,
        "sellable_seats": 6,
        "accessible_seats": 1,
        "zones": {"premium": 5, "standard": 1},
    }
    assert info["created_by"] == 9
    stored = await db.fetchrow("SELECT seats, sellable_seats FROM events.seat_map_versions")
    assert tuple(stored) == (7, 6)
    listed = await (await client.get(f"/api/v1/venues/{venue['id']}")).json()
    assert [m["id"] for m in listed["seat_maps"]] == [info["map_id"]]


async def test_a_broken_map_is_a_400_naming_the_json_path_and_stores_nothing(client, tokens, db):
    venue = await new_venue(client, tokens)
    document = small_map()
    document["sections"][0]["rows"][1]["seats"][2]["zone"] = "gold"
    response = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps", json=document, headers=tokens.admin()
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"] == [
        {"field": "body.sections.0.rows.1.seats.2.zone", "reason": "no zone 'gold' in zones"}
    ]
    assert await db.fetchval("SELECT count(*) FROM events.seat_maps") == 0


async def test_malformed_json_a_nul_and_the_wrong_media_type_are_refused(client, tokens):
    venue = await new_venue(client, tokens)
    url = f"{ADMIN_VENUES}/{venue['id']}/seat-maps"
    headers = tokens.admin() | {"Content-Type": "application/json"}
    malformed = await client.post(url, data=b'{"name": ', headers=headers)
    assert malformed.status == 400 and (await malformed.json())["code"] == "malformed_json"
    document = small_map()
    document["name"] = "Hall\u0000"
    nul = await client.post(url, data=json.dumps(document).encode(), headers=headers)
    assert nul.status == 400 and (await nul.json())["errors"][0]["field"] == "body.name"
    text = await client.post(
        url, data=b"{}", headers=tokens.admin() | {"Content-Type": "text/plain"}
    )
    assert text.status == 415


async def test_a_body_over_the_limit_is_a_413(client, tokens):
    venue = await new_venue(client, tokens)
    body = b'{"name": "' + b"x" * (SEAT_MAP_MAX_BYTES + 1) + b'"}'
    response = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps",
        data=body,
        headers=tokens.admin() | {"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["code"] == "payload_too_large"


async def test_100000_seats_upload_and_come_back_from_bookings_internal_read(client, tokens):
    venue = await new_venue(client, tokens, capacity=100_000)
    row_seats = [{"label": str(n), "x": n, "y": 1} for n in range(1, 1001)]
    document = {
        "name": "Stadium",
        "zones": [{"id": "all", "name": "All"}],
        "sections": [
            {
                "id": f"B{b}",
                "zone": "all",
                "rows": [{"id": f"R{r}", "seats": row_seats} for r in range(10)],
            }
            for b in range(10)
        ],
    }
    info = await new_map(client, tokens, venue["id"], document)
    assert info["stats"]["seats"] == 100_000
    response = await client.get(
        f"/internal/v1/seat-maps/{info['map_id']}/versions/1",
        headers={"X-Internal-Key": INTERNAL_API_KEY},
    )
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"]
    version = await response.json()
    assert version["version"] == 1 and version["stats"]["sellable_seats"] == 100_000
    parsed = SeatMapDocument.model_validate(version["document"])
    assert parsed.sections[9].rows[9].seats[999].id == "B9-R9-1000"


async def test_the_internal_read_needs_the_key_and_is_never_public(client, tokens):
    venue = await new_venue(client, tokens)
    info = await new_map(client, tokens, venue["id"])
    url = f"/internal/v1/seat-maps/{info['map_id']}/versions/1"
    assert (await client.get(url)).status == 401
    assert (await client.get(url, headers=tokens.admin())).status == 401
    assert service_for(url) is None


async def test_a_new_upload_makes_the_next_version_and_old_ones_stay(client, tokens):
    venue = await new_venue(client, tokens)
    first = await new_map(client, tokens, venue["id"])
    changed = small_map()
    changed["name"] = "Small Hall, row C added"
    changed["sections"][0]["rows"].append(
        {"id": "C", "seats": [{"label": "1", "x": 10, "y": 60}, {"label": "2", "x": 20, "y": 60}]}
    )
    second = await new_version(client, tokens, first["map_id"], changed)
    assert second["version"] == 2 and second["stats"]["seats"] == 9
    detail = await (
        await client.get(f"{ADMIN_MAPS}/{first['map_id']}", headers=tokens.admin())
    ).json()
    assert detail["latest_version"] == 2 and detail["name"] == "Small Hall, row C added"
    assert [v["stats"]["seats"] for v in detail["versions"]] == [7, 9]
    old = await client.get(f"{ADMIN_MAPS}/{first['map_id']}/versions/1", headers=tokens.admin())
    assert old.status == 200
    assert (await old.json())["document"]["name"] == "Small Hall"
    for version in (3, 2**40):  # no such version; beyond the column's range
        missing = await client.get(
            f"{ADMIN_MAPS}/{first['map_id']}/versions/{version}", headers=tokens.admin()
        )
        assert missing.status == 404 and (await missing.json())["code"] == "seat_map_not_found"


async def test_the_stored_document_is_normalised(client, tokens):
    venue = await new_venue(client, tokens)
    info = await new_map(client, tokens, venue["id"])
    response = await client.get(f"{ADMIN_MAPS}/{info['map_id']}/versions/1", headers=tokens.admin())
    document = (await response.json())["document"]
    row = document["sections"][0]["rows"][1]
    assert (row["label"], row["rank"]) == ("B", 2)
    assert [seat["id"] for seat in row["seats"]] == ["stalls-B-1", "stalls-B-2", "vip-1"]
    assert document["zones"][1]["color"].startswith("#")


async def test_a_rectangular_map_is_built_from_parameters_and_versioned_alike(client, tokens):
    venue = await new_venue(client, tokens)
    response = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps/rectangular",
        json=RECTANGLE,
        headers=tokens.admin(),
    )
    assert response.status == 201, await response.text()
    info = await response.json()
    assert info["source"] == "rectangular" and info["stats"]["seats"] == 40
    bigger = {**RECTANGLE, "seats_per_row": 6}
    again = await client.post(
        f"{ADMIN_MAPS}/{info['map_id']}/versions/rectangular", json=bigger, headers=tokens.admin()
    )
    assert again.status == 201 and (await again.json())["version"] == 2
    wrong = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps/rectangular",
        json={**RECTANGLE, "rows": 5},
        headers=tokens.admin(),
    )
    assert wrong.status == 400
    assert (await wrong.json())["errors"][0]["field"] == "body.zones"


async def test_maps_need_an_existing_venue_or_map_and_an_admin(client, tokens):
    assert (
        await client.post(
            f"{ADMIN_VENUES}/999999/seat-maps", json=small_map(), headers=tokens.admin()
        )
    ).status == 404
    assert (
        await client.post(f"{ADMIN_MAPS}/999999/versions", json=small_map(), headers=tokens.admin())
    ).status == 404
    venue = await new_venue(client, tokens)
    customer = await client.post(
        f"{ADMIN_VENUES}/{venue['id']}/seat-maps", json=small_map(), headers=tokens.customer(3)
    )
    assert customer.status == 403


async def test_an_admin_sees_a_version_as_svg(client, tokens):
    venue = await new_venue(client, tokens)
    info = await new_map(client, tokens, venue["id"])
    response = await client.get(
        f"{ADMIN_MAPS}/{info['map_id']}/versions/1.svg", headers=tokens.admin()
    )
    assert response.status == 200 and response.content_type == "image/svg+xml"
    assert response.headers["Cache-Control"].startswith("private")  # an admin's view
    root = ET.fromstring(await response.text())
    assert len([e for e in root.iter() if e.get("data-seat")]) == 7
