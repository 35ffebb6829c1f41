"""The events relay running in the real app delivers every change to each consumer."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from evently.core.auth import AUTHENTICATOR
from tests.conftest import INTERNAL_API_KEY
from tests.events.conftest import event_body
from tests.events.inbox_recorder import InboxRecorder
from tests.support.outbox_peers import wait_until

CONSUMERS = ("bookings", "search", "analytics")


@pytest.fixture
async def recorders(aiohttp_server) -> dict[str, tuple[InboxRecorder, str]]:
    found = {}
    for name in CONSUMERS:
        recorder = InboxRecorder(INTERNAL_API_KEY)
        server = await aiohttp_server(recorder.app())
        found[name] = (recorder, str(server.make_url("")).rstrip("/"))
    return found


@pytest.fixture
async def relaying_client(aiohttp_client, make_app, tokens, recorders, real_bookings):
    """The events app with its outbox relay on, consumers played by recorders."""
    app = make_app(
        "events",
        {
            "OUTBOX_RELAY_ENABLED": "true",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "OUTBOX_MAX_BACKOFF_S": "0.2",
            "BOOKINGS_URL": recorders["bookings"][1],
            "SEARCH_URL": recorders["search"][1],
            "ANALYTICS_URL": recorders["analytics"][1],
        },
    )
    app[AUTHENTICATOR] = tokens.authenticator()
    return await aiohttp_client(app)


async def test_every_change_reaches_every_consumer_in_order(relaying_client, recorders, tokens):
    client = relaying_client
    admin = tokens.admin()
    created = await (
        await client.post("/api/v1/admin/events", json=event_body(), headers=admin)
    ).json()
    url = f"/api/v1/admin/events/{created['id']}"
    await client.put(url, json=event_body(name="Second"), headers={**admin, "If-Match": "1"})
    await client.put(url, json=event_body(name="Third"), headers={**admin, "If-Match": "2"})
    await client.delete(url, headers=admin)
    for name in CONSUMERS:
        recorder = recorders[name][0]
        messages = await recorder.wait_for(4)
        assert [m["version"] for m in messages] == [1, 2, 3, 4], name
        assert all(m["topic"] == "event.changed" and m["source"] == "events" for m in messages)
        assert all(m["key"] == str(created["id"]) for m in messages)
        assert [m["payload"]["name"] for m in messages[:3]] == [
            "Night at the Opera", "Second", "Third",
        ]  # fmt: skip
        assert messages[3]["payload"]["status"] == "cancelled"
        assert messages[0]["payload"]["version"] == 1


async def test_a_failing_consumer_is_retried_without_holding_up_the_others(
    relaying_client, recorders, tokens, db
):
    search = recorders["search"][0]
    search.fail_next = 2
    client = relaying_client
    response = await client.post("/api/v1/admin/events", json=event_body(), headers=tokens.admin())
    assert response.status == 201
    assert len(await recorders["bookings"][0].wait_for(1)) == 1
    delivered = await search.wait_for(1)
    assert search.failures == 2
    assert [m["version"] for m in delivered] == [1]
    # The relay records the acknowledgement just after the consumer answered.
    await wait_until(
        lambda: db.fetchval(
            "SELECT delivered_at IS NOT NULL FROM events.outbox WHERE consumer = 'search'"
        )
    )
    assert await db.fetchval("SELECT attempts FROM events.outbox WHERE consumer = 'search'") == 2


async def test_outbox_metrics_are_served(relaying_client, recorders, tokens):
    client = relaying_client
    await client.post("/api/v1/admin/events", json=event_body(), headers=tokens.admin())
    await recorders["analytics"][0].wait_for(1)
    text = await (await client.get("/metrics")).text()
    assert 'evently_outbox_lag_seconds{consumer="analytics",source="events"}' in text
    assert 'evently_outbox_pending_messages{consumer="bookings",source="events"}' in text
    assert 'evently_outbox_relay_leader{source="events"} 1.0' in text
    assert REGISTRY.get_sample_value("evently_event_changes_total", {"operation": "create"}) >= 1
