"""From the events service's admin API, through its outbox relay, into search results.

Both real apps run on 127.0.0.1 against one fresh database; the events relay delivers
``event.changed`` over HTTP to the search inbox. The other consumers of the topic
(bookings, analytics) are played by recorders.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evently.core.auth import AUTHENTICATOR
from tests.conftest import INTERNAL_API_KEY
from tests.events.inbox_recorder import InboxRecorder
from tests.search.conftest import ids, wait_until_ready
from tests.support.outbox_peers import wait_until
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TokenMinter

STARTS = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def event_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Jazz Night",
        "description": "Bebop until late.",
        "type": "concert",
        "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(hours=3)).isoformat(),
        "capacity": 100,
        "price": "49.90",
        "currency": "EUR",
        "status": "published",
        "venue": {"name": "Blue Note", "address": "1 Main St", "city": "Berlin", "capacity": 300},
    }
    return body | overrides


@pytest.fixture
async def fresh_database_url(databases: DatabaseFactory) -> AsyncIterator[str]:
    """A database of its own: this test writes the events schema too."""
    dsn = await databases.create()
    yield dsn
    await databases.drop(dsn)


async def test_events_outbox_changes_reach_search_results(
    aiohttp_client, aiohttp_server, make_app, search_env, fresh_database_url
):
    database = {"DATABASE_URL": fresh_database_url}
    search_client = await aiohttp_client(make_app("search", {**search_env, **database}))
    await wait_until_ready(search_client)
    others = {}
    for name in ("bookings", "analytics"):
        server = await aiohttp_server(InboxRecorder(INTERNAL_API_KEY).app())
        others[name] = str(server.make_url("")).rstrip("/")
    events_app = make_app(
        "events",
        {
            **database,
            "OUTBOX_RELAY_ENABLED": "true",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "OUTBOX_MAX_BACKOFF_S": "0.2",
            "SEARCH_URL": str(search_client.make_url("")).rstrip("/"),
            "BOOKINGS_URL": others["bookings"],
            "ANALYTICS_URL": others["analytics"],
        },
    )
    tokens = TokenMinter()
    events_app[AUTHENTICATOR] = tokens.authenticator()
    events = await aiohttp_client(events_app)
    admin = tokens.admin()

    async def found(q: str) -> list[int]:
        response = await search_client.get("/api/v1/search", params={"q": q})
        assert response.status == 200, await response.text()
        return ids(await response.json())

    async def shows(q: str, expected: list[int]) -> bool:
        return await found(q) == expected

    created = await events.post("/api/v1/admin/events", json=event_body(), headers=admin)
    assert created.status == 201, await created.text()
    event_id = (await created.json())["id"]
    draft = await events.post(
        "/api/v1/admin/events", json=event_body(name="Jazz Secret", status="draft"), headers=admin
    )
    assert draft.status == 201, await draft.text()
    await wait_until(lambda: shows("jazz", [event_id]))

    url = f"/api/v1/admin/events/{event_id}"
    renamed = await events.put(
        url, json=event_body(name="Swing Night"), headers={**admin, "If-Match": "1"}
    )
    assert renamed.status == 200, await renamed.text()
    await wait_until(lambda: shows("swing", [event_id]))
    assert await found("jazz") == []

    cancelled = await events.delete(url, headers=admin)
    assert cancelled.status == 200, await cancelled.text()
    await wait_until(lambda: shows("swing", []))
