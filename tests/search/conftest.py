"""Fixtures for the search tests: the same tests run against both backends.

``search_backend`` is parametrized (postgres, opensearch); with opensearch each test
gets its own osmem-server process (tests/support/opensearch.py). Documents are fed the
way production feeds them: outbox batches POSTed to the service's /internal/inbox.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import INTERNAL_API_KEY
from tests.support.opensearch import OpenSearchServer
from tests.support.postgres import DatabaseFactory

BACKENDS = ("postgres", "opensearch")


@pytest.fixture(scope="session")
def search_database(databases: DatabaseFactory) -> Iterator[str]:
    """One migrated database for the search tests; each test starts from empty tables."""
    dsn = asyncio.run(databases.create())
    yield dsn
    asyncio.run(databases.drop(dsn))


@pytest.fixture
async def database_url(search_database: str) -> str:
    """Overrides the per-test database: emptying search's tables is much cheaper than
    cloning a database, and search touches no other schema."""
    conn = await asyncpg.connect(search_database)
    try:
        await conn.execute(
            "TRUNCATE search.documents, search.words, search.suggestions, search.inbox"
        )
    finally:
        await conn.close()
    return search_database


@pytest.fixture(params=BACKENDS)
def search_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def opensearch() -> Iterator[OpenSearchServer]:
    """A fresh OpenSearch-API server for this test."""
    server = OpenSearchServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def search_env(search_backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings selecting the backend (and, for opensearch, a server of this test)."""
    env = {"SEARCH_BACKEND": search_backend}
    if search_backend == "opensearch":
        server: OpenSearchServer = request.getfixturevalue("opensearch")
        env |= {
            "OPENSEARCH_URL": server.url,
            "OPENSEARCH_REFRESH": "true",  # read-your-writes, so tests need no waiting
            "OPENSEARCH_REPLICAS": "0",
            # The production default: one slow answer from a loaded machine is not an outage.
            # Outage tests (test_opensearch.py) shorten it to 1 s so a paused server fails fast.
            "OPENSEARCH_TIMEOUT_S": "5",
            "OPENSEARCH_CHECK_INTERVAL_S": "0.2",
            "SEARCH_REINDEX_BATCH_SIZE": "20",
        }
    return env


@pytest.fixture
def search_app(make_app: Callable[..., web.Application], search_env: dict[str, str]):
    return make_app("search", env=search_env)


@pytest.fixture
async def client(aiohttp_client, search_app: web.Application) -> TestClient:
    """A client of the running app, once it reports ready (as Kubernetes would wait)."""
    client = await aiohttp_client(search_app)
    await wait_until_ready(client)
    return client


async def wait_until_ready(client: TestClient, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (response := await client.get("/readyz")).status != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout_s}s: {await response.text()}")
        await asyncio.sleep(0.05)


class Feeder:
    """Sends event.changed / inventory.changed messages to the search inbox."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.ids = itertools.count(1)
        self.versions: dict[int, int] = {}
        self.inventory_versions: dict[int, int] = {}

    @staticmethod
    def event(
        event_id: int,
        version: int = 1,
        *,
        name: str = "An event",
        description: str = "",
        type: str = "concert",
        status: str = "published",
        starts_at: str = "2031-06-01T19:00:00+00:00",
        price: str = "25.00",
        currency: str = "EUR",
        venue: str = "Town Hall",
        city: str = "Berlin",
        capacity: int = 100,
    ) -> dict[str, Any]:
        """A full event.changed payload (docs/outbox.md)."""
        return {
            "id": event_id,
            "version": version,
            "name": name,
            "description": description,
            "type": type,
            "status": status,
            "starts_at": starts_at,
            "ends_at": (datetime.fromisoformat(starts_at) + timedelta(hours=3)).isoformat(),
            "capacity": capacity,
            "price": price,
            "currency": currency,
            "sale_opens_at": None,
            "sale_closes_at": None,
            "max_per_user": 10,
            "hold_ttl_seconds": 600,
            "waitlist_enabled": True,
            "waitlist_offer_ttl_seconds": 900,
            "venue": {
                "id": 7000 + event_id,
                "name": venue,
                "address": "1 Main St",
                "city": city,
                "capacity": capacity,
            },
            "managed_by": None,
            "created_by": 1,
            "created_at": "2030-01-01T00:00:00+00:00",
            "updated_at": "2030-01-01T00:00:00+00:00",
        }

    @staticmethod
    def inventory(
        event_id: int, version: int, *, available: int, sold_out: bool = False, capacity: int = 100
    ) -> dict[str, Any]:
        """A full inventory.changed payload."""
        return {
            "event_id": event_id,
            "version": version,
            "capacity": capacity,
            "sold": capacity - available,
            "held": 0,
            "available": available,
            "on_sale": True,
            "sold_out": sold_out,
            "status": "published",
        }

    def message(self, topic: str, payload: dict[str, Any], message_id: int | None = None):
        key = payload["id"] if topic == "event.changed" else payload["event_id"]
        return {
            "id": message_id if message_id is not None else next(self.ids),
            "source": "events" if topic == "event.changed" else "bookings",
            "topic": topic,
            "key": str(key),
            "version": payload["version"],
            "payload": payload,
            "created_at": "2030-01-01T00:00:00+00:00",
        }

    async def deliver(self, messages: list[dict[str, Any]]) -> list[int]:
        """POST one batch (all from one source); returns the acknowledged ids."""
        response = await self.client.post(
            "/internal/inbox",
            json={"source": messages[0]["source"], "messages": messages},
            headers={"X-Internal-Key": INTERNAL_API_KEY},
        )
        assert response.status == 200, await response.text()
        return (await response.json())["acknowledged"]

    async def events(self, *payloads: dict[str, Any]) -> list[int]:
        return await self.deliver([self.message("event.changed", p) for p in payloads])

    async def publish(self, event_id: int, **fields: Any) -> dict[str, Any]:
        """Publish (or update) an event at its next version; asserts it was acknowledged."""
        version = self.versions.get(event_id, 0) + 1
        self.versions[event_id] = version
        payload = self.event(event_id, version, **fields)
        messages = [self.message("event.changed", payload)]
        assert await self.deliver(messages) == [messages[0]["id"]]
        return payload

    async def availability(self, event_id: int, *, available: int, sold_out: bool = False) -> None:
        version = self.inventory_versions.get(event_id, 0) + 1
        self.inventory_versions[event_id] = version
        payload = self.inventory(event_id, version, available=available, sold_out=sold_out)
        messages = [self.message("inventory.changed", payload)]
        assert await self.deliver(messages) == [messages[0]["id"]]


@pytest.fixture
def feed(client: TestClient) -> Feeder:
    return Feeder(client)


@pytest.fixture
async def search(client: TestClient) -> AsyncIterator[Callable[..., Any]]:
    """``await search(q="jazz", city="Berlin")`` -> the JSON body (asserts 200)."""

    async def run(path: str = "/api/v1/search", **params: Any) -> dict[str, Any]:
        response = await client.get(path, params={k: str(v) for k, v in params.items()})
        assert response.status == 200, await response.text()
        return await response.json()

    yield run


def names(result: dict[str, Any]) -> list[str]:
    """The hit names, in order."""
    return [hit["name"] for hit in result["hits"]]


def ids(result: dict[str, Any]) -> list[int]:
    return [hit["id"] for hit in result["hits"]]


def facet(result: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in result["facets"][name]}
