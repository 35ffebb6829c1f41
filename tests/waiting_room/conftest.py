"""Fixtures for the waiting room tests: the real app (ticker off: tests drive the clock),
test-signed access tokens, and rooms fed through the inbox as the outbox feeds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from evently.core.auth import AUTHENTICATOR
from evently.core.db import POOL
from evently.core.settings import SETTINGS
from evently.waiting_room.context import WAITING_ROOM
from evently.waiting_room.ticker import TickResult, tick_room
from tests.analytics.conftest import deliver
from tests.analytics.contract import event_changed, message
from tests.support.tokens import TokenMinter


@pytest.fixture
def tokens() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def make_room_app(
    make_app: Callable[..., web.Application], tokens: TokenMinter
) -> Callable[..., web.Application]:
    """The real waiting room app, verifying tokens minted by ``tokens``; no ticker runs
    unless asked (``WAITING_ROOM_TICKER_ENABLED=true``)."""

    def build(**env: str) -> web.Application:
        app = make_app("waiting_room", env={"WAITING_ROOM_TICKER_ENABLED": "false", **env})
        app[AUTHENTICATOR] = tokens.authenticator()
        return app

    return build


@pytest.fixture
async def room(aiohttp_client: Any, make_room_app: Callable[..., web.Application]) -> TestClient:
    """A client of the waiting room app."""
    return await aiohttp_client(make_room_app())


def room_settings(**overrides: Any) -> dict[str, Any]:
    """An event's ``waiting_room`` settings as ``event.changed`` carries them."""
    return {
        "enabled": True,
        "prequeue_opens_at": None,
        "admission_rate_per_minute": 60,
        "max_active_shoppers": 100,
        "session_ttl_s": 600,
        "when_sold_out": "offer_waitlist",
        **overrides,
    }


async def configure_room(
    client: TestClient,
    event_id: int,
    *,
    version: int = 1,
    sale_opens_at: datetime | None = None,
    **settings: Any,
) -> None:
    """Deliver the event's ``event.changed`` with a waiting room, as the events outbox does."""
    payload = event_changed(
        event_id,
        version=version,
        sale_opens_at=sale_opens_at,
        waiting_room=room_settings(**settings),
    )
    assert await deliver(client, [payload]) == [payload["id"]]
    await heard(client, event_id)


async def report_inventory(
    client: TestClient,
    event_id: int,
    version: int,
    *,
    sold_out: bool,
    available: int | None = None,
) -> None:
    """Deliver bookings' ``inventory.changed`` for the event (``available`` seats: by
    default none when sold out, else all ten)."""
    if available is None:
        available = 0 if sold_out else 10
    payload = {
        "event_id": event_id,
        "version": version,
        "capacity": 10,
        "sold": 10 - available,
        "held": 0,
        "available": available,
        "on_sale": True,
        "sold_out": sold_out,
        "status": "published",
    }
    msg = message("bookings", "inventory.changed", event_id, version, payload)
    assert await deliver(client, [msg]) == [msg["id"]]
    await heard(client, event_id)


# Bounds the wait for a replica's LISTEN connection; never a speed assertion.
HEARD_ROUNDS = 500


async def heard(client: TestClient, event_id: int) -> None:
    """Wait until the replica's in-memory snapshot (``RoomVersions``, fed by its LISTEN
    connection) has the room's committed state version. The inbox applies deliveries on
    a loop of its own, so its answer may reach the client before the notification of its
    commit reaches the replica's listener, as a change made by another replica does."""
    # A connection of its own: a test may hold every pooled one.
    conn = await asyncpg.connect(client.app[SETTINGS].database_url)
    try:
        committed = await conn.fetchval(
            "SELECT state_version FROM waiting_room.rooms WHERE event_id = $1", event_id
        )
    finally:
        await conn.close()
    versions = client.app[WAITING_ROOM].versions
    for _ in range(HEARD_ROUNDS):
        if committed is None or (versions.current(event_id) or -1) >= committed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"room {event_id}: version {committed} never heard by the replica")


async def tick(client: TestClient, event_id: int, now: datetime, idle_s: float = 0.0) -> TickResult:
    """One tick of the room at ``now``, on one of the app's pooled connections."""
    async with client.app[POOL].acquire() as conn:
        return await tick_room(conn, event_id, now, idle_s)


def bearer(tokens: TokenMinter, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(user_id)}"}


async def join(client: TestClient, tokens: TokenMinter, event_id: int, user_id: int) -> Any:
    response = await client.post(
        f"/api/v1/events/{event_id}/waiting-room/join", headers=bearer(tokens, user_id)
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def status(client: TestClient, tokens: TokenMinter, event_id: int, user_id: int) -> Any:
    response = await client.get(
        f"/api/v1/events/{event_id}/waiting-room/me", headers=bearer(tokens, user_id)
    )
    assert response.status == 200, await response.text()
    return await response.json()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
