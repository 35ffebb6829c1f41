"""Admin management: create, replace with If-Match, cancel, the admin list, and who may."""

from __future__ import annotations

from evently.core.db import POOL
from tests.events.conftest import event_body, venue

ADMIN_EVENTS = "/api/v1/admin/events"


async def create(client, tokens, **overrides) -> dict:
    response = await client.post(ADMIN_EVENTS, json=event_body(**overrides), headers=tokens.admin())
    assert response.status == 201, await response.text()
    return await response.json()


async def outbox_rows(db, event_id: int) -> list:
    return await db.fetch(
        "SELECT consumer, version, payload FROM events.outbox WHERE key = $1 ORDER BY id",
        str(event_id),
    )


# --- create ------------------------------------------------------------------------


async def test_create_returns_the_event_with_its_venue_version_and_etag(client, tokens, db):
    response = await client.post(ADMIN_EVENTS, json=event_body(), headers=tokens.admin(user_id=7))
    assert response.status == 201, await response.text()
    event = await response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{ADMIN_EVENTS}/{event['id']}"
    assert event["version"] == 1
    assert event["price"] == "49.90"
    assert event["currency"] == "EUR"
    assert event["status"] == "published"
    assert event["created_by"] == 7
    assert event["managed_by"] is None
    assert event["hold_ttl_seconds"] == 600
    assert event["waitlist_enabled"] is True
    assert event["waitlist_offer_ttl_seconds"] == 900
    assert event["venue"]["name"] == "Grand Hall"
    # The deprecated free-form layout is accepted and ignored (docs/seating.md).
    assert "layout" not in event["venue"]
    stored = await db.fetchrow(
        "SELECT price, version FROM events.events WHERE id = $1", event["id"]
    )
    assert str(stored["price"]) == "49.90" and stored["version"] == 1


async def test_create_writes_one_event_changed_message_with_the_full_state(client, tokens, db):
    event = await create(client, tokens)
    rows = await outbox_rows(db, event["id"])
    # Written once; the relay routes it to the contract's consumers (test_event_outbox).
    assert [(r["consumer"], r["version"]) for r in rows] == [(None, 1)]
    payload = rows[0]["payload"]
    assert set(payload) == {
        "schema_version", "id", "version", "name", "description", "type", "status",
        "starts_at", "ends_at", "capacity", "price", "currency", "sale_opens_at",
        "sale_closes_at", "max_per_user", "hold_ttl_seconds", "waitlist_enabled",
        "waitlist_offer_ttl_seconds", "max_per_address", "waiting_room", "seating",
        "require_verified_email", "hold_expiry_reminder_s", "venue",
        "managed_by", "created_by", "created_at", "updated_at",
    }  # fmt: skip
    assert set(payload["venue"]) == {"id", "name", "address", "city", "capacity"}
    assert payload["price"] == "49.90"
    assert payload["version"] == 1 and payload["id"] == event["id"]


async def test_same_venue_name_and_city_in_any_case_is_one_venue(client, tokens, db):
    first = await create(client, tokens, venue=venue("Grand Hall", "Berlin"))
    second = await create(client, tokens, name="Other", venue=venue("GRAND HALL", "berlin"))
    assert first["venue"]["id"] == second["venue"]["id"]
    assert await db.fetchval("SELECT count(*) FROM events.venues") == 1


INVALID_FIELDS = [
    ({"ends_at": "2020-01-01T00:00:00+00:00"}, "body.ends_at"),
    ({"capacity": 0}, "body.capacity"),
    ({"capacity": 501}, "body.capacity"),  # above the venue's 500
    ({"price": "-1.00"}, "body.price"),
    ({"price": "1.001"}, "body.price"),
    ({"price": 1e20}, "body.price"),
    ({"currency": "eur"}, "body.currency"),
    ({"status": "cancelled"}, "body.status"),
    ({"type": "Rock & Roll"}, "body.type"),
    ({"starts_at": "2030-01-01T20:00:00"}, "body.starts_at"),  # no timezone
    ({"sale_opens_at": "2099-01-01T00:00:00+00:00"}, "body.sale_closes_at"),
    ({"max_per_user": 101}, "body.max_per_user"),
    ({"hold_ttl_seconds": 0}, "body.hold_ttl_seconds"),
    ({"managed_by": "kubernetes:default/x"}, "body.managed_by"),
    ({"venue": {"name": "X", "address": "Y", "city": "Z"}}, "body.venue.capacity"),
    ({"name": ""}, "body.name"),
]


async def test_create_refuses_invalid_fields_naming_them_and_writes_nothing(
    client, tokens, db, subtests
):
    for overrides, field in INVALID_FIELDS:
        with subtests.test(field=field, overrides=overrides):
            response = await client.post(
                ADMIN_EVENTS, json=event_body(**overrides), headers=tokens.admin()
            )
            assert response.status == 400, await response.text()
            assert response.content_type == "application/problem+json"
            problem = await response.json()
            assert problem["code"] == "validation_failed"
            assert field in [e["field"] for e in problem["errors"]], problem
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 0


async def test_sale_closing_after_the_event_ends_is_refused(client, tokens):
    body = event_body()
    body["sale_closes_at"] = "2999-01-01T00:00:00+00:00"
    response = await client.post(ADMIN_EVENTS, json=body, headers=tokens.admin())
    assert response.status == 400
    errors = (await response.json())["errors"]
    assert {
        "field": "body.sale_closes_at",
        "reason": "the sale cannot close after the event ends",
    } in errors


async def test_create_refuses_malformed_json_and_wrong_content_type(client, tokens):
    bad = await client.post(
        ADMIN_EVENTS, data=b"{nope", headers={**tokens.admin(), "Content-Type": "application/json"}
    )
    assert bad.status == 400
    assert (await bad.json())["code"] == "malformed_json"
    text = await client.post(ADMIN_EVENTS, data=b"x", headers=tokens.admin())
    assert text.status == 415


# --- who may -----------------------------------------------------------------------


ADMIN_ROUTES = [
    ("GET", ADMIN_EVENTS),
    ("POST", ADMIN_EVENTS),
    ("GET", f"{ADMIN_EVENTS}/1"),
    ("PUT", f"{ADMIN_EVENTS}/1"),
    ("DELETE", f"{ADMIN_EVENTS}/1"),
]


async def test_admin_routes_need_an_admin_token_with_events_write(client, tokens, db, subtests):
    body = event_body()
    token = tokens.token(2, roles=("admin",), perms=("analytics:read",))
    for method, path in ADMIN_ROUTES:
        with subtests.test(method=method, path=path):
            anonymous = await client.request(method, path, json=body)
            assert anonymous.status == 401
            assert (await anonymous.json())["code"] == "unauthorized"
            customer = await client.request(method, path, json=body, headers=tokens.customer())
            assert customer.status == 403
            assert (await customer.json())["code"] == "admin_required"
            weak = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert weak.status == 403
            assert (await weak.json())["code"] == "permission_required"
            forged = await client.request(
                method, path, json=body, headers={"Authorization": "Bearer not.a.token"}
            )
            assert forged.status == 401
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0


async def test_a_token_signed_by_another_key_is_refused(client):
    from tests.support.tokens import TokenMinter

    other = TokenMinter(kid="test-key-1")  # same kid, different key
    response = await client.post(ADMIN_EVENTS, json=event_body(), headers=other.admin())
    assert response.status == 401


# --- replace (PUT) -----------------------------------------------------------------


async def test_put_with_the_current_version_replaces_and_bumps_the_version(client, tokens, db):
    event = await create(client, tokens)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(name="Renamed", price="55.00"),
        headers={**tokens.admin(), "If-Match": '"1"'},
    )
    assert response.status == 200, await response.text()
    updated = await response.json()
    assert updated["name"] == "Renamed" and updated["price"] == "55.00"
    assert updated["version"] == 2
    assert response.headers["ETag"] == '"2"'
    rows = await outbox_rows(db, event["id"])
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[-1]["payload"]["name"] == "Renamed"


async def test_put_with_a_stale_version_is_412_and_changes_nothing(client, tokens, db):
    event = await create(client, tokens)
    url = f"{ADMIN_EVENTS}/{event['id']}"
    ok = await client.put(
        url, json=event_body(name="A"), headers={**tokens.admin(), "If-Match": '"1"'}
    )
    assert ok.status == 200
    stale = await client.put(
        url, json=event_body(name="B"), headers={**tokens.admin(), "If-Match": '"1"'}
    )
    assert stale.status == 412
    problem = await stale.json()
    assert problem["code"] == "version_mismatch"
    assert problem["current_version"] == 2 and problem["expected_version"] == 1
    assert await db.fetchval("SELECT name FROM events.events WHERE id = $1", event["id"]) == "A"
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 2


async def test_put_without_if_match_is_428(client, tokens):
    event = await create(client, tokens)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}", json=event_body(), headers=tokens.admin()
    )
    assert response.status == 428
    assert (await response.json())["code"] == "if_match_required"


async def test_put_with_a_malformed_if_match_is_400(client, tokens, subtests):
    event = await create(client, tokens)
    for if_match in ["abc", '"-1"', '"1.5"', ""]:
        with subtests.test(if_match=if_match):
            response = await client.put(
                f"{ADMIN_EVENTS}/{event['id']}",
                json=event_body(name="New"),
                headers={**tokens.admin(), "If-Match": if_match},
            )
            assert response.status == 400
            assert (await response.json())["code"] == "invalid_if_match"


async def test_put_accepts_weak_bare_and_wildcard_if_match(client, tokens, subtests):
    event = await create(client, tokens)
    for version, if_match in enumerate(['W/"1"', "2", "*"], start=1):
        with subtests.test(if_match=if_match):
            response = await client.put(
                f"{ADMIN_EVENTS}/{event['id']}",
                json=event_body(name=f"New {version}"),
                headers={**tokens.admin(), "If-Match": if_match},
            )
            assert response.status == 200, await response.text()
            assert (await response.json())["version"] == version + 1


async def test_put_of_the_same_state_changes_nothing(client, tokens, db):
    event = await create(client, tokens)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 200
    assert (await response.json())["version"] == 1
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 1


async def test_put_of_an_unknown_event_is_404(client, tokens):
    response = await client.put(
        f"{ADMIN_EVENTS}/999", json=event_body(), headers={**tokens.admin(), "If-Match": "1"}
    )
    assert response.status == 404
    assert (await response.json())["code"] == "event_not_found"


async def test_put_of_a_cancelled_event_is_409(client, tokens):
    event = await create(client, tokens)
    await client.delete(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(),
        headers={**tokens.admin(), "If-Match": "*"},
    )
    assert response.status == 409
    assert (await response.json())["code"] == "event_cancelled"


async def test_changing_a_venue_announces_every_event_held_there(client, tokens, db):
    first = await create(client, tokens, name="First")
    second = await create(client, tokens, name="Second")
    moved = event_body(name="First", venue=venue(address="2 New Road"))
    response = await client.put(
        f"{ADMIN_EVENTS}/{first['id']}", json=moved, headers={**tokens.admin(), "If-Match": "1"}
    )
    assert response.status == 200
    assert (await response.json())["venue"]["address"] == "2 New Road"
    latest = await db.fetchrow(
        "SELECT version, payload FROM events.outbox WHERE key = $1 ORDER BY id DESC LIMIT 1",
        str(second["id"]),
    )
    assert latest["version"] == 2
    assert latest["payload"]["venue"]["address"] == "2 New Road"


# --- capacity rule -----------------------------------------------------------------


async def test_capacity_cannot_drop_below_sold_plus_held(client, sell, tokens, db):
    event = await create(client, tokens, capacity=100)
    await sell(event["id"], sold=12, held=8)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=19),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 409
    problem = await response.json()
    assert problem["code"] == "capacity_below_reserved"
    assert (problem["sold"], problem["held"], problem["requested"]) == (12, 8, 19)
    assert await db.fetchval("SELECT capacity FROM events.events") == 100
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 1


async def test_capacity_may_drop_to_exactly_sold_plus_held(client, sell, tokens):
    event = await create(client, tokens, capacity=100)
    await sell(event["id"], sold=12, held=8)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=20),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["capacity"] == 20


async def test_raising_capacity_does_not_ask_bookings(events_client_for, tokens):
    # Bookings is unreachable: asking it would fail the change with a 503.
    client = await events_client_for("http://127.0.0.1:9")  # discard port: refused
    event = await create(client, tokens, capacity=100)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=200),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 200


async def test_lowering_capacity_with_no_inventory_at_real_bookings_is_allowed(client, tokens):
    """The real bookings app answers 404 for an event it holds no inventory for: 0 seats."""
    event = await create(client, tokens, capacity=100)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=10),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["capacity"] == 10


async def test_lowering_capacity_while_bookings_fails_is_503_and_changes_nothing(
    client, real_bookings, tokens, db
):
    event = await create(client, tokens, capacity=100)
    await real_bookings.app[POOL].close()  # bookings' database is gone: it answers 503
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=10),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 503
    assert (await response.json())["code"] == "bookings_unavailable"
    assert await db.fetchval("SELECT capacity FROM events.events") == 100


async def test_lowering_capacity_while_bookings_is_unreachable_is_503(events_client_for, tokens):
    client = await events_client_for("http://127.0.0.1:9")  # discard port: refused
    event = await create(client, tokens, capacity=100)
    response = await client.put(
        f"{ADMIN_EVENTS}/{event['id']}",
        json=event_body(capacity=10),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert response.status == 503
    assert response.headers["Retry-After"]


# --- managed_by ----------------------------------------------------------------------


async def managed_event(db, managed_by: str = "kubernetes:shows/opera") -> int:
    from evently.events.models import EventInput
    from evently.events.repository import create_event

    event = await create_event(db, EventInput.model_validate(event_body()), managed_by=managed_by)
    return event.id


async def test_an_event_a_kubernetes_resource_owns_is_read_only_through_the_api(client, tokens, db):
    event_id = await managed_event(db)
    put = await client.put(
        f"{ADMIN_EVENTS}/{event_id}",
        json=event_body(name="X"),
        headers={**tokens.admin(), "If-Match": "1"},
    )
    assert put.status == 409
    problem = await put.json()
    assert problem["code"] == "event_managed_by_kubernetes"
    assert problem["managed_by"] == "kubernetes:shows/opera"
    assert problem["resource"] == {"kind": "Event", "namespace": "shows", "name": "opera"}
    assert "kubernetes:shows/opera" in problem["detail"]
    delete = await client.delete(f"{ADMIN_EVENTS}/{event_id}", headers=tokens.admin())
    assert delete.status == 409
    assert (await delete.json())["code"] == "event_managed_by_kubernetes"
    row = await db.fetchrow("SELECT name, status, version FROM events.events")
    assert tuple(row) == ("Night at the Opera", "published", 1)
    # Reading it is fine.
    read = await client.get(f"{ADMIN_EVENTS}/{event_id}", headers=tokens.admin())
    assert (await read.json())["managed_by"] == "kubernetes:shows/opera"


# --- cancel (DELETE) -----------------------------------------------------------------


async def test_delete_soft_cancels_and_keeps_the_event(client, tokens, db):
    event = await create(client, tokens)
    response = await client.delete(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    assert response.status == 200
    cancelled = await response.json()
    assert cancelled["status"] == "cancelled" and cancelled["version"] == 2
    assert await db.fetchval("SELECT status FROM events.events") == "cancelled"
    rows = await outbox_rows(db, event["id"])
    assert [r["payload"]["status"] for r in rows[1:]] == ["cancelled"]
    # Still in history: the public page shows it as cancelled; the list no longer does.
    public = await client.get(f"/api/v1/events/{event['id']}")
    assert (await public.json())["status"] == "cancelled"
    listed = await client.get("/api/v1/events")
    assert (await listed.json())["total"] == 0


async def test_delete_twice_changes_nothing_the_second_time(client, tokens, db):
    event = await create(client, tokens)
    await client.delete(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    again = await client.delete(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    assert again.status == 200
    assert (await again.json())["version"] == 2
    assert await db.fetchval("SELECT count(*) FROM events.outbox") == 2


async def test_delete_with_a_stale_if_match_is_412(client, tokens, db):
    event = await create(client, tokens)
    response = await client.delete(
        f"{ADMIN_EVENTS}/{event['id']}", headers={**tokens.admin(), "If-Match": '"5"'}
    )
    assert response.status == 412
    assert await db.fetchval("SELECT status FROM events.events") == "published"


async def test_delete_of_an_unknown_event_is_404(client, tokens):
    response = await client.delete(f"{ADMIN_EVENTS}/12345", headers=tokens.admin())
    assert response.status == 404


async def test_a_completed_event_cannot_be_cancelled(client, tokens):
    event = await create(client, tokens, status="completed")
    response = await client.delete(f"{ADMIN_EVENTS}/{event['id']}", headers=tokens.admin())
    assert response.status == 409
    assert (await response.json())["code"] == "event_completed"


# --- admin reads ---------------------------------------------------------------------


async def test_admin_list_includes_drafts_and_cancelled_and_filters_by_status(client, tokens):
    draft = await create(client, tokens, name="Draft", status="draft")
    published = await create(client, tokens, name="Live")
    gone = await create(client, tokens, name="Gone")
    await client.delete(f"{ADMIN_EVENTS}/{gone['id']}", headers=tokens.admin())
    everything = await (await client.get(ADMIN_EVENTS, headers=tokens.admin())).json()
    assert everything["total"] == 3
    assert {e["id"] for e in everything["items"]} == {draft["id"], published["id"], gone["id"]}
    assert "created_by" in everything["items"][0]
    drafts = await (
        await client.get(ADMIN_EVENTS, params={"status": "draft"}, headers=tokens.admin())
    ).json()
    assert [e["id"] for e in drafts["items"]] == [draft["id"]]
    bad = await client.get(ADMIN_EVENTS, params={"status": "gone"}, headers=tokens.admin())
    assert bad.status == 400
    assert (await bad.json())["errors"][0]["field"] == "query.status"


async def test_admin_list_filters_managed_events(client, tokens, db):
    mine = await managed_event(db)
    await create(client, tokens, name="Plain")
    page = await (
        await client.get(ADMIN_EVENTS, params={"managed": "true"}, headers=tokens.admin())
    ).json()
    assert [e["id"] for e in page["items"]] == [mine]


async def test_admin_get_shows_a_draft_with_its_etag(client, tokens):
    draft = await create(client, tokens, status="draft")
    response = await client.get(f"{ADMIN_EVENTS}/{draft['id']}", headers=tokens.admin())
    assert response.status == 200
    assert response.headers["ETag"] == '"1"'
    missing = await client.get(f"{ADMIN_EVENTS}/404404", headers=tokens.admin())
    assert missing.status == 404
