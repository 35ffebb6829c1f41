"""Sales figures in status, from the real bookings service.

The platform runs for real here: the events app (whose outbox relay delivers the
operator's ``event.changed`` to bookings) and the bookings app (whose relay delivers
``inventory.changed`` back to events, which the operator's level sweep watches), both on
127.0.0.1, with customers holding, confirming and queueing through bookings' public API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import aiohttp
import pytest

from evently.core.auth import AUTHENTICATOR
from tests.conftest import INTERNAL_API_KEY
from tests.operator.conftest import event_manifest, wait_for
from tests.support.kube import free_port
from tests.support.tokens import TokenMinter

NOWHERE = "http://127.0.0.1:9"  # search and analytics do not run here; deliveries back off


@dataclass
class Platform:
    bookings_url: str
    tokens: TokenMinter


@pytest.fixture
async def platform(make_app, aiohttp_server) -> Platform:
    """The bookings and events apps running, and the key bookings trusts for tokens."""
    minter = TokenMinter()
    events_port = free_port()
    bookings = make_app(
        "bookings",
        env={
            # inventory.changed reaches events (the figures the sweep compares).
            "EVENTS_URL": f"http://127.0.0.1:{events_port}",
            "SEARCH_URL": NOWHERE,
            "ANALYTICS_URL": NOWHERE,
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "BOOKINGS_PUBLISH_INTERVAL_S": "0.05",
            "BOOKINGS_EXPIRY_INTERVAL_S": "0.5",
        },
    )
    bookings[AUTHENTICATOR] = minter.authenticator()
    bookings_server = await aiohttp_server(bookings, host="127.0.0.1")
    url = str(bookings_server.make_url("")).rstrip("/")
    events = make_app(
        "events",
        env={"BOOKINGS_URL": url, "SEARCH_URL": NOWHERE, "ANALYTICS_URL": NOWHERE,
             "OUTBOX_POLL_INTERVAL_S": "0.2"},
    )  # fmt: skip
    await aiohttp_server(events, host="127.0.0.1", port=events_port)
    return Platform(url, minter)


class Customer:
    def __init__(self, session: aiohttp.ClientSession, base: str, minter: TokenMinter, uid: int):
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {minter.token(uid)}"}

    async def hold(self, event_id: int, quantity: int) -> dict:
        async with self.session.post(
            f"{self.base}/api/v1/bookings",
            json={"event_id": event_id, "quantity": quantity},
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
        ) as response:
            assert response.status == 201, await response.text()
            return await response.json()

    async def confirm(self, booking_id: int) -> None:
        async with self.session.post(
            f"{self.base}/api/v1/bookings/{booking_id}/confirm", headers=self.headers
        ) as response:
            assert response.status == 200, await response.text()

    async def join_waitlist(self, event_id: int, quantity: int) -> None:
        async with self.session.post(
            f"{self.base}/api/v1/events/{event_id}/waitlist",
            json={"quantity": quantity},
            headers=self.headers,
        ) as response:
            assert response.status == 201, await response.text()


async def test_status_shows_sales_figures_and_sold_out(start_operator, resources, platform):
    bookings_url = platform.bookings_url
    start_operator(BOOKINGS_URL=bookings_url)
    resources.apply(event_manifest("hot", opens_in=-5, closes_in=600, capacity=5, maxPerUser=5))
    event_id = await wait_for(lambda: resources.status("hot").get("eventId"), what="eventId")

    async with aiohttp.ClientSession() as session:

        async def bookings_knows_it() -> bool:
            async with session.get(
                f"{bookings_url}/internal/events/{event_id}/availability",
                headers={"X-Internal-Key": INTERNAL_API_KEY},
            ) as response:
                return response.status == 200

        await wait_for(bookings_knows_it, what="event.changed to reach bookings")
        ann, bob, cat, dan = (
            Customer(session, bookings_url, platform.tokens, uid) for uid in (1, 2, 3, 4)
        )
        await ann.confirm((await ann.hold(event_id, 2))["id"])
        await bob.hold(event_id, 1)
        status = await wait_for(
            lambda: (s := resources.status("hot")).get("sold") == 2 and s, what="sold 2"
        )
        assert (status["held"], status["available"], status["waitlisted"]) == (1, 2, 0)
        assert status["phase"] == "OnSale"

        await cat.hold(event_id, 2)
        await dan.join_waitlist(event_id, 1)
        status = await wait_for(
            lambda: (s := resources.status("hot")).get("phase") == "SoldOut" and s,
            what="SoldOut",
        )
    assert (status["sold"], status["held"], status["available"]) == (2, 3, 0)
    assert status["waitlisted"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "SoldOut")
    assert "2 sold, 3 held, 0 available of 5" in ready["message"]
    row = resources.kube.kubectl("-n", resources.namespace, "get", "evt", "hot").stdout
    assert row.split("\n")[1].split()[1:6] == ["SoldOut", "True", "2", "0", "5"]
