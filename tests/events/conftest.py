"""Fixtures for the events service: its real app, real tokens, the real bookings app to
talk to, and ``sell`` to give that bookings sold and held seats through its own API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from evently.core import contracts
from evently.core.auth import AUTHENTICATOR
from evently.core.db import init_connection
from tests.conftest import INTERNAL_API_KEY
from tests.support.tokens import TokenMinter

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database, for arranging rows and checking results."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    yield conn
    await conn.close()


@pytest.fixture
async def real_bookings(aiohttp_server, make_app, tokens) -> TestServer:
    """The real bookings service app, serving on 127.0.0.1."""
    app = make_app("bookings", {"OUTBOX_RELAY_ENABLED": "false"})
    app[AUTHENTICATOR] = tokens.authenticator()
    return await aiohttp_server(app)


Sell = Callable[..., Any]


@pytest.fixture
def sell(real_bookings: TestServer, tokens: TokenMinter, db: asyncpg.Connection) -> Sell:
    """``await sell(event_id, sold=.., held=..)``: the event's latest event.changed reaches
    the real bookings as its relay would deliver it, then buyers hold seats through the
    bookings API and confirm the first ``sold`` of them."""
    base = str(real_bookings.make_url("")).rstrip("/")

    async def run(event_id: int, *, sold: int, held: int) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            payload = await deliver_latest_event_changed(http, base, db, event_id)
            per_user = payload["max_per_user"]
            for buyer, to_confirm in _buyers(sold, held, per_user):
                headers = tokens.customer(buyer)
                quantity = to_confirm[0]
                hold = await http.post(
                    f"{base}/api/v1/bookings",
                    json={"event_id": event_id, "quantity": quantity},
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                assert hold.status == 201, await hold.text()
                if to_confirm[1]:
                    booking = await hold.json()
                    confirm = await http.post(
                        f"{base}/api/v1/bookings/{booking['id']}/confirm", headers=headers
                    )
                    assert confirm.status == 200, await confirm.text()

    return run


async def deliver_latest_event_changed(
    http: Any, bookings_base: str, db: asyncpg.Connection, event_id: int
) -> dict[str, Any]:
    """Deliver the event's latest outbox message to the bookings at ``bookings_base`` as
    its relay would (the inbox must acknowledge it); returns the rendered payload."""
    message = await db.fetchrow(
        "SELECT * FROM events.outbox WHERE key = $1 ORDER BY id DESC LIMIT 1", str(event_id)
    )
    payload = contracts.render(message["topic"], message["payload"])
    delivered = await http.post(
        f"{bookings_base}/internal/inbox",
        json={
            "source": "events",
            "messages": [
                {
                    "id": message["id"],
                    "source": "events",
                    "topic": message["topic"],
                    "key": message["key"],
                    "version": message["version"],
                    "payload": payload,
                    "created_at": message["created_at"].isoformat(),
                }
            ],
        },
        headers={"X-Internal-Key": INTERNAL_API_KEY},
    )
    assert (await delivered.json())["acknowledged"] == [message["id"]], await delivered.text()
    return payload


def _buyers(sold: int, held: int, per_user: int) -> list[tuple[int, tuple[int, bool]]]:
    """One booking per buyer (user ids from 1000), at most ``per_user`` seats each."""
    bookings: list[tuple[int, bool]] = []
    for seats, confirm in ((sold, True), (held, False)):
        while seats > 0:
            bookings.append((min(per_user, seats), confirm))
            seats -= min(per_user, seats)
    return [(1000 + n, booking) for n, booking in enumerate(bookings)]


EventsClientFactory = Callable[..., Any]


@pytest.fixture
def events_client_for(aiohttp_client, make_app, tokens) -> EventsClientFactory:
    """``await events_client_for(bookings_url)``: the real events app (relay off)."""

    async def build(bookings_url: str, **env: str) -> TestClient:
        app: web.Application = make_app(
            "events", {"BOOKINGS_URL": bookings_url, "OUTBOX_RELAY_ENABLED": "false", **env}
        )
        app[AUTHENTICATOR] = tokens.authenticator()
        return await aiohttp_client(app)

    return build


@pytest.fixture
async def client(events_client_for, real_bookings) -> TestClient:
    """The events app, talking to the real bookings app."""
    return await events_client_for(str(real_bookings.make_url("")))


def event_body(**overrides: Any) -> dict[str, Any]:
    """A valid admin body for an event on sale now; ``overrides`` replace top-level keys."""
    body: dict[str, Any] = {
        "name": "Night at the Opera",
        "description": "An evening of arias.",
        "type": "concert",
        "starts_at": (NOW + timedelta(days=30)).isoformat(),
        "ends_at": (NOW + timedelta(days=30, hours=3)).isoformat(),
        "capacity": 100,
        "price": "49.90",
        "currency": "EUR",
        "status": "published",
        "sale_opens_at": (NOW - timedelta(days=1)).isoformat(),
        "sale_closes_at": (NOW + timedelta(days=30)).isoformat(),
        "max_per_user": 4,
        "venue": {
            "name": "Grand Hall",
            "address": "1 Main Street",
            "city": "Berlin",
            "capacity": 500,
            "layout": {"sections": ["stalls", "balcony"]},
        },
    }
    body.update(overrides)
    return body


def venue(name: str = "Grand Hall", city: str = "Berlin", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "address": "1 Main Street", "city": city, "capacity": 500, **overrides}
