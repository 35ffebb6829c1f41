"""Message contracts (core/contracts.py): one definition per topic, versioned, routed.

The integration test plays a producer from a later release: its relay renders
inventory.changed as schema_version 2, and the real events service must refuse it
loudly and leave it in the producer's outbox.
"""

from __future__ import annotations

import json
import logging

import aiohttp
import asyncpg
import pytest
from prometheus_client import REGISTRY

from evently.core import contracts
from evently.core.db import init_connection
from evently.core.outbox import HttpConsumer, OutboxRelay
from evently.services import all_services
from tests.conftest import INTERNAL_API_KEY

STATE = {
    "event_id": 7,
    "version": 3,
    "capacity": 10,
    "sold": 2,
    "held": 1,
    "available": 7,
    "on_sale": True,
    "sold_out": False,
    "status": "published",
}


def test_every_topic_has_one_contract_a_known_producer_and_consumers():
    services = {s.name for s in all_services()}
    for name, topic in contracts.TOPICS.items():
        assert name == topic.contract.TOPIC
        assert topic.contract.VERSION >= 1
        assert topic.producer in services
        assert topic.consumers and set(topic.consumers) <= services - {topic.producer}
    assert contracts.routes("bookings") == {
        "inventory.changed": ("search", "events", "analytics", "waiting_room"),
        "booking.changed": ("analytics", "notifications", "waiting_room"),
        "waitlist.changed": ("analytics", "notifications"),
        "ticket.checked_in": ("analytics",),
        "refund.changed": ("analytics", "notifications"),
    }
    assert contracts.routes("users") == {
        "user.changed": ("notifications",),
        "account.mail_requested": ("notifications",),
    }


def test_render_sets_the_version_and_parse_refuses_a_newer_one():
    rendered = contracts.render("inventory.changed", STATE)
    assert rendered == {"schema_version": 1, **STATE, "waitlisted": 0}
    assert contracts.parse(contracts.InventoryChanged, STATE).available == 7  # no version: 1
    with pytest.raises(contracts.UnsupportedVersion, match="schema_version 2"):
        contracts.parse(contracts.InventoryChanged, {**STATE, "schema_version": 2})
    with pytest.raises(ValueError, match="sold_out"):
        contracts.render("inventory.changed", {k: v for k, v in STATE.items() if k != "sold_out"})


def test_a_stored_booking_row_renders_as_the_api_shows_a_booking():
    row = {
        "id": 1,
        "event_id": 2,
        "user_id": 3,
        "quantity": 2,
        "status": "held",
        "unit_price": "49.90",  # stored as text (bookings/sql/outbox.sql)
        "currency": "EUR",
        "hold_expires_at": "2030-01-01T10:10:00.5+00:00",
        "created_at": "2030-01-01T10:00:00+00:00",
        "confirmed_at": None,
        "cancelled_at": None,
        "expired_at": None,
        "waitlist_entry_id": None,
        "payment_reference": None,
        "version": 1,
    }
    at = "2030-01-01T10:00:00+00:00"
    message = contracts.render("booking.changed", {"transition": "held", "at": at, "booking": row})
    booking = message["booking"]
    stored = json.dumps({"transition": "held", "at": at, "booking": row})
    assert json.loads(contracts.render_json("booking.changed", stored)) == message
    assert (booking["unit_price"], booking["amount"]) == ("49.90", "99.80")
    assert booking["hold_expires_at"] == "2030-01-01T10:10:00.500000Z"
    assert "payment_reference" not in booking


@pytest.fixture
async def events_inbox(aiohttp_client, make_app):
    return await aiohttp_client(make_app("events", {"OUTBOX_RELAY_ENABLED": "false"}))


async def test_a_consumer_refuses_a_newer_version_loudly_and_it_stays_in_the_outbox(
    events_inbox, database_url, caplog
):
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    session = aiohttp.ClientSession()
    refused_before = REGISTRY.get_sample_value(
        "evently_inbox_refused_total", {"source": "bookings", "topic": "inventory.changed"}
    )
    try:
        await conn.execute(
            "INSERT INTO bookings.outbox (topic, key, version, payload) VALUES ($1, $2, $3, $4)",
            "inventory.changed",
            "7",
            3,
            STATE,
        )
        from_the_future = OutboxRelay(
            database_url,
            "bookings",
            {
                "events": HttpConsumer(
                    lambda: session, str(events_inbox.make_url("")), INTERNAL_API_KEY
                )
            },
            routes={"inventory.changed": ("events",)},
            render=lambda topic, state: json.dumps(
                {**json.loads(contracts.render_json(topic, state)), "schema_version": 2}
            ).encode(),
        )
        with caplog.at_level(logging.ERROR, logger="evently.inbox"):
            assert await from_the_future.deliver_pending(conn) == 0
        # It stays in the outbox: queued for that consumer, to be retried.
        row = await conn.fetchrow("SELECT * FROM bookings.outbox WHERE delivered_at IS NULL")
        assert (row["consumer"], row["attempts"]) == ("events", 1)
        assert row["last_error"] == "not acknowledged by the consumer"
        assert "inventory.changed schema_version 2 is not supported" in caplog.text
        assert await conn.fetchval("SELECT count(*) FROM events.availability") == 0
        refused = REGISTRY.get_sample_value(
            "evently_inbox_refused_total", {"source": "bookings", "topic": "inventory.changed"}
        )
        assert refused - (refused_before or 0) == 1
    finally:
        await session.close()
        await conn.close()
