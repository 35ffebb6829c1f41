"""An event's hold policies (issue 17): holds need a verified email, and a reminder mail
before a hold expires. Set through the admin API, validated field by field, stored with
the event and carried in ``event.changed`` (docs/events.md)."""

from __future__ import annotations

import pytest

from evently.core.contracts import EventChanged, parse
from tests.events.conftest import event_body
from tests.events.test_admin_events import ADMIN_EVENTS, create, outbox_rows


async def test_the_hold_policies_are_stored_and_carried_in_event_changed(client, tokens, db):
    event = await create(client, tokens, require_verified_email=True, hold_expiry_reminder_s=120)
    assert (event["require_verified_email"], event["hold_expiry_reminder_s"]) == (True, 120)
    fetched = await (
        await client.get(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    ).json()
    assert (fetched["require_verified_email"], fetched["hold_expiry_reminder_s"]) == (True, 120)
    (row,) = await outbox_rows(db, event["id"])
    message = parse(EventChanged, row["payload"])
    assert (message.require_verified_email, message.hold_expiry_reminder_s) == (True, 120)


async def test_by_default_anyone_may_hold_and_no_reminder_is_mailed(client, tokens):
    event = await create(client, tokens)
    assert (event["require_verified_email"], event["hold_expiry_reminder_s"]) == (False, None)


def test_an_event_changed_from_before_the_fields_existed_reads_as_off():
    payload = {
        "id": 1, "version": 1, "name": "Old", "description": "", "type": "concert",
        "status": "published", "starts_at": "2031-06-01T19:00:00+00:00",
        "ends_at": "2031-06-01T23:00:00+00:00", "capacity": 10, "price": "1.00",
        "currency": "EUR", "sale_opens_at": None, "sale_closes_at": None, "max_per_user": 2,
        "hold_ttl_seconds": 600, "waitlist_enabled": True, "waitlist_offer_ttl_seconds": 900,
        "managed_by": None, "created_by": 1, "created_at": "2031-01-01T00:00:00+00:00",
        "updated_at": "2031-01-01T00:00:00+00:00",
        "venue": {"id": 1, "name": "Hall", "address": "1 Main St", "city": "X", "capacity": 50},
    }  # fmt: skip
    message = parse(EventChanged, payload)
    assert (message.require_verified_email, message.hold_expiry_reminder_s) == (False, None)


async def test_switching_a_policy_on_makes_a_new_version_and_message(client, tokens, db):
    event = await create(client, tokens)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(require_verified_email=True),
        headers=tokens.admin() | {"If-Match": f'"{event["version"]}"'},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["version"] == event["version"] + 1
    rows = await outbox_rows(db, event["id"])
    assert [parse(EventChanged, r["payload"]).require_verified_email for r in rows] == [
        False, True,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hold_expiry_reminder_s", 29),
        ("hold_expiry_reminder_s", 86401),
        ("hold_expiry_reminder_s", 0),
        ("hold_expiry_reminder_s", "60"),
        ("require_verified_email", "yes"),
        ("require_verified_email", None),
    ],
)
async def test_a_bad_policy_is_refused_naming_its_field_and_stores_nothing(
    client, tokens, db, field, value
):
    response = await client.post(
        ADMIN_EVENTS, json=event_body(**{field: value}), headers=tokens.admin()
    )
    assert response.status == 400, await response.text()
    problem = await response.json()
    assert [e["field"] for e in problem["errors"]] == [f"body.{field}"]
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0
