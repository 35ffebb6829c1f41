"""Fixtures for the events service: its real app, real tokens, a bookings to talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from evently.core.auth import AUTHENTICATOR
from evently.core.db import init_connection
from tests.conftest import INTERNAL_API_KEY
from tests.events.bookings_stub import BookingsContractStub
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
async def real_bookings(aiohttp_server, make_app) -> TestServer:
    """The real bookings service app, serving on 127.0.0.1."""
    return await aiohttp_server(make_app("bookings", {"OUTBOX_RELAY_ENABLED": "false"}))


@pytest.fixture
async def bookings_stub(aiohttp_server) -> BookingsContractStub:
    """A stand-in for bookings' internal availability API (see bookings_stub.py)."""
    stub = BookingsContractStub(INTERNAL_API_KEY)
    stub.server = await aiohttp_server(stub.app())
    return stub


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


@pytest.fixture
async def stubbed_client(events_client_for, bookings_stub) -> TestClient:
    """The events app, talking to the bookings contract stub."""
    return await events_client_for(bookings_stub.url)


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
