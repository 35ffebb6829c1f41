"""Fixtures for the bookings tests: the real app on a fresh database, signed tokens,
and a helper that feeds the inventory through the real inbox with event.changed."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from evently.core import contracts
from evently.core.auth import AUTHENTICATOR
from evently.core.db import init_connection
from evently.core.outbox import OutboxMessage, contract_relay
from tests.conftest import INTERNAL_API_KEY
from tests.support.tokens import TokenMinter

# Short windows so tests never sleep long; background loops run often.
FAST_ENV = {
    "BOOKINGS_EXPIRY_INTERVAL_S": "0.1",
    "BOOKINGS_PUBLISH_INTERVAL_S": "0.01",
    "BOOKINGS_RECONCILE_INTERVAL_S": "0.5",
    "OUTBOX_RELAY_ENABLED": "false",
    "BOOKINGS_SSE_HEARTBEAT_S": "0.2",
    # Generous: a loaded CI machine must not turn queueing into lock timeouts.
    "BOOKINGS_LOCK_TIMEOUT_MS": "10000",
    "DB_POOL_MAX": "30",
}
INTERNAL = {"X-Internal-Key": INTERNAL_API_KEY}
_message_ids = itertools.count(1)


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def bookings_app(make_app, tokens) -> Callable[..., web.Application]:
    """Build the bookings app verifying tokens signed by ``tokens``."""

    def build(env: dict[str, str] | None = None) -> web.Application:
        app = make_app("bookings", env={**FAST_ENV, **(env or {})})
        app[AUTHENTICATOR] = tokens.authenticator()
        return app

    return build


@pytest.fixture
async def client(aiohttp_client, bookings_app) -> TestClient:
    return await aiohttp_client(bookings_app())


@pytest.fixture
async def db(database_url: str):
    """A direct connection to the test's database (json/jsonb decoded)."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    yield conn
    await conn.close()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def event_payload(event_id: int, version: int = 1, **changes: Any) -> dict[str, Any]:
    """An event.changed payload (the contract's full event state), on sale now."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "id": event_id,
        "version": version,
        "name": f"Event {event_id}",
        "description": "A test event",
        "type": "concert",
        "status": "published",
        "starts_at": iso(now + timedelta(days=30)),
        "ends_at": iso(now + timedelta(days=30, hours=3)),
        "capacity": 100,
        "price": "49.90",
        "currency": "EUR",
        "sale_opens_at": iso(now - timedelta(hours=1)),
        "sale_closes_at": None,
        "max_per_user": 10,
        "hold_ttl_seconds": 600,
        "waitlist_enabled": True,
        "waitlist_offer_ttl_seconds": 900,
        "venue": {
            "id": 1,
            "name": "Hall",
            "address": "1 Main St",
            "city": "Berlin",
            "capacity": 500,
        },
        "managed_by": None,
        "created_by": 1,
        "created_at": iso(now - timedelta(days=1)),
        "updated_at": iso(now),
    }
    payload.update(changes)
    return payload


async def deliver_event(
    client: TestClient, event_id: int, version: int = 1, **changes: Any
) -> list[int]:
    """Deliver one event.changed message through the real inbox, as the relay would;
    returns the message ids the inbox acknowledged."""
    message = {
        "id": next(_message_ids),
        "source": "events",
        "topic": "event.changed",
        "key": str(event_id),
        "version": version,
        "payload": event_payload(event_id, version, **changes),
        "created_at": iso(datetime.now(UTC)),
    }
    response = await client.post(
        "/internal/inbox", json={"source": "events", "messages": [message]}, headers=INTERNAL
    )
    assert response.status == 200, await response.text()
    return (await response.json())["acknowledged"]


async def send_event(client: TestClient, event_id: int, version: int = 1, **changes: Any) -> None:
    """Deliver one event.changed message, which the inbox must acknowledge."""
    assert len(await deliver_event(client, event_id, version, **changes)) == 1


class Buyer:
    """One customer talking to the API with a real signed token."""

    def __init__(self, client: TestClient, tokens: TokenMinter, user_id: int) -> None:
        self.client = client
        self.user_id = user_id
        self.headers = tokens.customer(user_id)

    async def hold(
        self, event_id: int, quantity: int = 1, key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {**self.headers, "Idempotency-Key": key or uuid.uuid4().hex}
        response = await self.client.post(
            "/api/v1/bookings", json={"event_id": event_id, "quantity": quantity}, headers=headers
        )
        return response.status, await response.json()

    async def post(self, path: str, json: Any = None) -> tuple[int, dict[str, Any]]:
        response = await self.client.post(path, json=json, headers=self.headers)
        return response.status, await response.json()

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        response = await self.client.get(path, headers=self.headers)
        return response.status, await response.json()

    async def delete(self, path: str) -> tuple[int, dict[str, Any]]:
        response = await self.client.delete(path, headers=self.headers)
        return response.status, await response.json()

    async def confirm(self, booking_id: int) -> tuple[int, dict[str, Any]]:
        return await self.post(f"/api/v1/bookings/{booking_id}/confirm")

    async def cancel(self, booking_id: int) -> tuple[int, dict[str, Any]]:
        return await self.post(f"/api/v1/bookings/{booking_id}/cancel")


@pytest.fixture
def buyer(client, tokens) -> Callable[[int], Buyer]:
    return lambda user_id: Buyer(client, tokens, user_id)


async def seat_counts(db: asyncpg.Connection, event_id: int) -> dict[str, int]:
    """Inventory and bookings as stored: what the invariant checks look at."""
    row = await db.fetchrow(
        """SELECT i.capacity, i.reserved, bookings.sold_seats(i.event_id) AS sold,
                  (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings
                   WHERE event_id = i.event_id AND status = 'held') AS held_bookings,
                  (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings
                   WHERE event_id = i.event_id AND status = 'confirmed') AS confirmed_bookings
           FROM bookings.inventory i WHERE i.event_id = $1""",
        event_id,
    )
    return {k: int(v) for k, v in row.items()}


async def eventually(check: Callable[[], Awaitable[bool]], attempts: int = 200) -> None:
    """Poll ``check`` (bounded in count; no timing assertions) until it holds."""
    import asyncio

    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never became true")


class OutboxTap:
    """Runs bookings' real relay (routed and rendered by the contracts) into recording
    consumers: what each consumer would receive, accumulated over ``drain`` calls."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.received: dict[str, list[OutboxMessage]] = {
            name: [] for name in contracts.consumers("bookings")
        }

    async def drain(self) -> dict[str, list[OutboxMessage]]:
        taps = {name: _Recorder(self.received[name]) for name in self.received}
        relay = contract_relay(self.database_url, "bookings", taps)
        conn = await asyncpg.connect(self.database_url)
        await init_connection(conn)
        try:
            while await relay.deliver_pending(conn):
                pass
        finally:
            await conn.close()
        return self.received

    async def messages(self, consumer: str, topic: str) -> list[OutboxMessage]:
        await self.drain()
        return [m for m in self.received[consumer] if m.topic == topic]


class _Recorder:
    def __init__(self, into: list[OutboxMessage]) -> None:
        self.into = into

    async def deliver(self, source: str, batch: list[OutboxMessage]) -> set[int]:
        assert source == "bookings"
        self.into.extend(batch)
        return {m.id for m in batch}


@pytest.fixture
def outbox(database_url: str) -> OutboxTap:
    return OutboxTap(database_url)


# --- reserved seating: the real events service serves the seat maps bookings fetches ---


@pytest.fixture
async def events_server(aiohttp_server, make_app, tokens):
    """The real events service (its internal seat map API), on 127.0.0.1."""
    app = make_app("events", {"OUTBOX_RELAY_ENABLED": "false"})
    app[AUTHENTICATOR] = tokens.authenticator()
    return await aiohttp_server(app)


@pytest.fixture
async def events_client(aiohttp_client, events_server) -> TestClient:
    return await aiohttp_client(events_server)


@pytest.fixture
async def seated_client(aiohttp_client, bookings_app, events_server) -> TestClient:
    """The bookings app, fetching seat maps from ``events_server``."""
    url = str(events_server.make_url("")).rstrip("/")
    return await aiohttp_client(bookings_app({"EVENTS_URL": url}))


async def new_venue(events: TestClient, admin: dict[str, str]) -> int:
    """A new venue (through the admin API); its id."""
    venue = {"name": f"Hall {uuid.uuid4().hex[:8]}", "address": "1 Ring", "city": "Vienna",
             "capacity": 100_000}  # fmt: skip
    response = await events.post("/api/v1/admin/venues", json=venue, headers=admin)
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def upload_map(events: TestClient, tokens: TokenMinter, document: dict[str, Any]) -> dict:
    """A new venue with ``document`` as its map's version 1 (through the admin API)."""
    admin = tokens.admin()
    venue_id = await new_venue(events, admin)
    response = await events.post(
        f"/api/v1/admin/venues/{venue_id}/seat-maps", json=document, headers=admin
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def build_rectangular_map(
    events: TestClient, tokens: TokenMinter, *, rows: int, seats_per_row: int
) -> dict:
    """A new venue with a one-section rectangular map (seat ids ``S1-A-1``...)."""
    admin = tokens.admin()
    venue_id = await new_venue(events, admin)
    body = {
        "name": "Rectangle",
        "sections": 1,
        "rows": rows,
        "seats_per_row": seats_per_row,
        "zones": [{"zone": {"id": "std", "name": "Standard"}, "from_row": 1, "to_row": rows}],
    }
    response = await events.post(
        f"/api/v1/admin/venues/{venue_id}/seat-maps/rectangular", json=body, headers=admin
    )
    assert response.status == 201, await response.text()
    return await response.json()


def seating_of(seat_map: dict, version: int | None = None) -> dict[str, Any]:
    """``event.changed`` fields of an event seated on ``seat_map`` (capacity = sellable)."""
    return {
        "seating": {"map_id": seat_map["map_id"], "map_version": version or seat_map["version"]},
        "capacity": seat_map["stats"]["sellable_seats"],
    }


async def event_seat_rows(db: asyncpg.Connection, event_id: int) -> dict[str, tuple[str, Any]]:
    """The event's seat rows as stored: seat id -> (status, booking id)."""
    rows = await db.fetch(
        "SELECT seat_id, status, booking_id FROM bookings.event_seats WHERE event_id = $1",
        event_id,
    )
    return {r["seat_id"]: (r["status"], r["booking_id"]) for r in rows}
