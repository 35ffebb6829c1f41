"""An event's waiting room settings: set through the admin API, validated field by field,
stored with the event and carried in ``event.changed`` (docs/waiting-room.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evently.core.contracts import EventChanged, parse
from tests.events.conftest import NOW, event_body
from tests.events.test_admin_events import ADMIN_EVENTS, create, outbox_rows

ROOM = {
    "enabled": True,
    "prequeue_opens_at": (NOW - timedelta(days=2)).isoformat(),
    "admission_rate_per_minute": 600,
    "max_active_shoppers": 200,
    "session_ttl_s": 300,
    "when_sold_out": "close",
}


async def test_an_events_waiting_room_is_stored_and_carried_in_event_changed(client, tokens, db):
    event = await create(client, tokens, waiting_room=ROOM)
    assert event["waiting_room"]["admission_rate_per_minute"] == 600
    fetched = await (
        await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    ).json()
    assert fetched["waiting_room"] == event["waiting_room"]
    (row,) = await outbox_rows(db, event["id"])
    message = parse(EventChanged, row["payload"])
    assert message.waiting_room is not None
    assert message.waiting_room.when_sold_out == "close"
    assert message.waiting_room.max_active_shoppers == 200


async def test_an_event_without_a_room_says_null_and_defaults_fill_a_minimal_room(client, tokens):
    assert (await create(client, tokens))["waiting_room"] is None
    minimal = {"admission_rate_per_minute": 60, "max_active_shoppers": 10}
    room = (await create(client, tokens, name="Minimal", waiting_room=minimal))["waiting_room"]
    assert room == {
        "enabled": True,
        "prequeue_opens_at": None,
        "admission_rate_per_minute": 60,
        "max_active_shoppers": 10,
        "session_ttl_s": 600,
        "when_sold_out": "offer_waitlist",
        "when_unavailable": "fail_closed",
    }


async def test_the_failure_rule_is_stored_and_carried_in_event_changed(client, tokens, db):
    event = await create(client, tokens, waiting_room={**ROOM, "when_unavailable": "fail_open"})
    assert event["waiting_room"]["when_unavailable"] == "fail_open"
    (row,) = await outbox_rows(db, event["id"])
    assert parse(EventChanged, row["payload"]).waiting_room.when_unavailable == "fail_open"


async def test_changing_the_room_makes_a_new_version_and_message(client, tokens, db):
    event = await create(client, tokens, waiting_room=ROOM)
    body = event_body(waiting_room={**ROOM, "admission_rate_per_minute": 1200})
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=body,
        headers=tokens.admin() | {"If-Match": f'"{event["version"]}"'},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["version"] == event["version"] + 1
    rows = await outbox_rows(db, event["id"])
    assert rows[-1]["payload"]["waiting_room"]["admission_rate_per_minute"] == 1200


@pytest.mark.parametrize(
    ("room", "field"),
    [
        ({**ROOM, "admission_rate_per_minute": 0}, "waiting_room.admission_rate_per_minute"),
        ({**ROOM, "max_active_shoppers": -1}, "waiting_room.max_active_shoppers"),
        ({**ROOM, "session_ttl_s": 5}, "waiting_room.session_ttl_s"),
        ({**ROOM, "when_sold_out": "explode"}, "waiting_room.when_sold_out"),
        ({**ROOM, "when_unavailable": "shrug"}, "waiting_room.when_unavailable"),
        ({**ROOM, "prequeue_opens_at": "tomorrow"}, "waiting_room.prequeue_opens_at"),
        ({**ROOM, "surprise": 1}, "waiting_room.surprise"),
        (
            {**ROOM, "prequeue_opens_at": NOW.isoformat()},  # after the sale opened
            "waiting_room.prequeue_opens_at",
        ),
    ],
)
async def test_a_bad_room_setting_is_refused_naming_its_field_and_changes_nothing(
    client, tokens, db, room, field
):
    response = await client.post(
        ADMIN_EVENTS, json=event_body(waiting_room=room), headers=tokens.admin()
    )
    assert response.status == 400, await response.text()
    problem = await response.json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == [f"body.{field}"]
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0


async def test_a_prequeue_needs_a_sale_opening_to_shuffle_at(client, tokens):
    body = event_body(sale_opens_at=None, waiting_room=ROOM)
    response = await client.post(ADMIN_EVENTS, json=body, headers=tokens.admin())
    assert response.status == 400
    (error,) = (await response.json())["errors"]
    assert error["field"] == "body.waiting_room.prequeue_opens_at"
    assert "sale_opens_at" in error["reason"]


def test_an_event_changed_without_the_field_still_parses():
    """Messages written before the field existed: no room."""
    payload = {
        "id": 1, "version": 1, "name": "n", "description": "", "type": "concert",
        "status": "published", "starts_at": NOW.isoformat(), "ends_at": NOW.isoformat(),
        "capacity": 1, "price": "1.00", "currency": "EUR", "sale_opens_at": None,
        "sale_closes_at": None, "max_per_user": 1, "hold_ttl_seconds": 60,
        "waitlist_enabled": True, "waitlist_offer_ttl_seconds": 60, "managed_by": None,
        "created_at": NOW.isoformat(), "updated_at": NOW.isoformat(),
        "venue": {"id": 1, "name": "v", "address": "a", "city": "c", "capacity": 1},
        "created_by": None,
    }  # fmt: skip
    assert parse(EventChanged, payload).waiting_room is None
