"""The public SVG of a seated event shows each seat's live status, which the events
service reads from bookings (``GET /internal/events/{id}/seats``) for each drawing."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from evently.core.auth import AUTHENTICATOR
from evently.core.db import POOL
from tests.conftest import INTERNAL_API_KEY
from tests.events.conftest import deliver_latest_event_changed
from tests.events.seating import new_map, new_venue
from tests.events.test_seat_map_svg import classes, seats
from tests.events.test_seated_events import post, seated


@dataclass
class Platform:
    events: TestClient  # the events app under test, reading seat status from ``bookings``
    bookings: TestServer  # the real bookings app, fetching seat maps from an events app
    http: aiohttp.ClientSession

    @property
    def bookings_base(self) -> str:
        return str(self.bookings.make_url("")).rstrip("/")

    async def hold(self, tokens: Any, user_id: int, event_id: int, seat_ids: list[str]) -> dict:
        response = await self.http.post(
            f"{self.bookings_base}/api/v1/bookings",
            json={"event_id": event_id, "seat_ids": seat_ids},
            headers={**tokens.customer(user_id), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status == 201, await response.text()
        return await response.json()

    async def confirm(self, tokens: Any, user_id: int, booking_id: int) -> None:
        response = await self.http.post(
            f"{self.bookings_base}/api/v1/bookings/{booking_id}/confirm",
            headers=tokens.customer(user_id),
        )
        assert response.status == 200, await response.text()

    async def seat_status(self, event_id: int) -> tuple[int, dict[str, Any]]:
        response = await self.http.get(
            f"{self.bookings_base}/internal/events/{event_id}/seats",
            headers={"X-Internal-Key": INTERNAL_API_KEY},
        )
        return response.status, await response.json()


@pytest.fixture
async def platform(aiohttp_server, make_app, tokens, events_client_for):
    """Events (serving seat maps) -> bookings -> the events app under test; the two
    events apps share one database, so they are one events service."""
    maps = make_app("events", {"OUTBOX_RELAY_ENABLED": "false"})
    maps[AUTHENTICATOR] = tokens.authenticator()
    maps_server = await aiohttp_server(maps)
    bookings = make_app(
        "bookings",
        {"OUTBOX_RELAY_ENABLED": "false", "EVENTS_URL": str(maps_server.make_url("")).rstrip("/")},
    )
    bookings[AUTHENTICATOR] = tokens.authenticator()
    bookings_server = await aiohttp_server(bookings)
    events = await events_client_for(str(bookings_server.make_url("")))
    async with aiohttp.ClientSession() as http:
        yield Platform(events, bookings_server, http)


async def seated_event(
    platform: Platform, tokens: Any, db: Any, channels: dict[str, list[str]] | None = None
) -> int:
    """A published event on the small map (seat stalls-B-1 blocked), known to bookings."""
    venue = await new_venue(platform.events, tokens)
    seat_map = await new_map(platform.events, tokens, venue["id"])
    body = seated(seat_map)
    body["seating"]["channels"] = channels or {}
    response = await post(platform.events, tokens, body)
    assert response.status == 201, await response.text()
    event_id = (await response.json())["id"]
    await deliver_latest_event_changed(platform.http, platform.bookings_base, db, event_id)
    return event_id


async def drawing(platform: Platform, event_id: int) -> dict[str, ET.Element]:
    response = await platform.events.get(f"/api/v1/events/{event_id}/seat-map.svg")
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "public, max-age=5"
    return seats(ET.fromstring(await response.text()))


async def test_the_events_svg_shows_held_and_sold_seats_as_bookings_has_them(platform, tokens, db):
    event_id = await seated_event(platform, tokens, db)
    assert not any(
        classes(seat) & {"held", "sold"} for seat in (await drawing(platform, event_id)).values()
    )

    await platform.hold(tokens, 1, event_id, ["vip-1"])
    sold = await platform.hold(tokens, 2, event_id, ["stalls-A-3", "box-1-A"])
    await platform.confirm(tokens, 2, sold["id"])

    drawn = await drawing(platform, event_id)
    taken = {seat: classes(element) & {"held", "sold"} for seat, element in drawn.items()}
    assert taken == {
        "stalls-A-1": set(), "stalls-A-2": set(), "stalls-A-3": {"sold"}, "stalls-B-1": set(),
        "stalls-B-2": set(), "vip-1": {"held"}, "box-1-A": {"sold"},
    }  # fmt: skip
    assert "blocked" in classes(drawn["stalls-B-1"])


async def test_the_events_svg_draws_free_kept_back_seats_as_not_for_sale(platform, tokens, db):
    event_id = await seated_event(platform, tokens, db, {"promoter-x": ["vip-1", "stalls-A-1"]})
    response = await platform.http.post(
        f"{platform.bookings_base}/api/v1/bookings",
        json={"event_id": event_id, "seat_ids": ["vip-1"], "channel": "promoter-x"},
        headers={**tokens.admin(), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status == 201, await response.text()

    drawn = await drawing(platform, event_id)

    status = {"held", "sold", "kept_back"}
    assert classes(drawn["stalls-A-1"]) & status == {"kept_back"}
    assert classes(drawn["vip-1"]) & status == {"held"}
    assert classes(drawn["stalls-A-2"]) & status == set()
    assert "kept back" in drawn["stalls-A-1"].findtext("{http://www.w3.org/2000/svg}title")


async def test_bookings_reports_a_seated_events_seats_that_are_not_free(platform, tokens, db):
    event_id = await seated_event(platform, tokens, db)
    held = await platform.hold(tokens, 3, event_id, ["stalls-A-2", "stalls-A-1"])

    status, body = await platform.seat_status(event_id)

    assert status == 200, body
    assert (body["event_id"], body["held"], body["sold"]) == (
        event_id, ["stalls-A-1", "stalls-A-2"], []
    )  # fmt: skip
    await platform.confirm(tokens, 3, held["id"])
    assert (await platform.seat_status(event_id))[1]["sold"] == ["stalls-A-1", "stalls-A-2"]
    status, problem = await platform.seat_status(424242)
    assert (status, problem["code"]) == (404, "event_not_found")


async def test_a_general_admission_event_has_no_seat_status(platform, tokens, db):
    venue = await new_venue(platform.events, tokens)
    body = seated(await new_map(platform.events, tokens, venue["id"]))
    body["seating"], body["capacity"] = None, 5
    response = await post(platform.events, tokens, body)
    assert response.status == 201, await response.text()
    event_id = (await response.json())["id"]
    await deliver_latest_event_changed(platform.http, platform.bookings_base, db, event_id)

    status, problem = await platform.seat_status(event_id)

    assert (status, problem["code"]) == (404, "event_not_found")


async def test_the_svg_is_503_when_bookings_cannot_say(platform, tokens, db):
    event_id = await seated_event(platform, tokens, db)
    await platform.bookings.app[POOL].close()  # bookings' database is gone: it answers 503

    response = await platform.events.get(f"/api/v1/events/{event_id}/seat-map.svg")

    assert response.status == 503
    assert (await response.json())["code"] == "bookings_unavailable"
