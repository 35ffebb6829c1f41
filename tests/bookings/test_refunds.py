"""Refunds of cancelled paid bookings: created with the cancellation, driven by the
refund worker through the (fake) payment provider, settled by signed webhooks, and
never paid out twice."""

from __future__ import annotations

import json
import time

import pytest

from evently.bookings.context import BOOKINGS
from evently.bookings.refunds import process_due_refunds
from tests.bookings.conftest import send_event
from tests.bookings.payments import MANUAL_ENV, paid_booking


@pytest.fixture
async def client(aiohttp_client, bookings_app):
    return await aiohttp_client(bookings_app(MANUAL_ENV))


@pytest.fixture
def ctx(client):
    return client.app[BOOKINGS]


@pytest.fixture
def provider(ctx):
    return ctx.payments


async def refund_of(customer, booking_id: int) -> dict:
    status, refund = await customer.get(f"/api/v1/bookings/{booking_id}/refund")
    assert status == 200, refund
    return refund


async def test_cancelling_a_paid_booking_creates_one_pending_refund(client, buyer, db, ctx, outbox):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    assert (await alice.get(f"/api/v1/bookings/{booking['id']}/refund"))[1]["code"] == (
        "refund_not_found"
    )

    assert (await alice.cancel(booking["id"]))[0] == 200
    assert (await alice.cancel(booking["id"]))[0] == 200  # a retry: still one refund

    refund = await refund_of(alice, booking["id"])
    assert refund["status"] == "pending"
    assert (refund["amount"], refund["currency"]) == ("99.80", "EUR")
    assert (refund["reason"], refund["attempts"]) == ("booking_cancelled", 0)
    assert await db.fetchval("SELECT count(*) FROM bookings.refunds") == 1
    messages = await outbox.messages("analytics", "refund.changed")
    assert [m.payload["transition"] for m in messages] == ["created"]
    assert messages[0].payload["refund"] == refund


async def test_an_unpaid_or_held_booking_gets_no_refund(client, buyer, db):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    held = (await alice.hold(1, 1))[1]
    unpaid = (await alice.hold(1, 1))[1]
    await alice.confirm(unpaid["id"])  # confirm without a payment: a free confirmation
    for booking in (held, unpaid):
        await alice.cancel(booking["id"])
        status, problem = await alice.get(f"/api/v1/bookings/{booking['id']}/refund")
        assert (status, problem["code"]) == (404, "refund_not_found")
    assert await db.fetchval("SELECT count(*) FROM bookings.refunds") == 0


async def test_only_the_owner_or_an_admin_sees_a_refund(client, buyer, db, ctx, tokens):
    await send_event(client, 1)
    booking = await paid_booking(ctx, db, buyer(1), 1)
    await buyer(1).cancel(booking["id"])
    status, problem = await buyer(2).get(f"/api/v1/bookings/{booking['id']}/refund")
    assert (status, problem["code"]) == (404, "booking_not_found")
    response = await client.get(f"/api/v1/bookings/{booking['id']}/refund", headers=tokens.admin())
    assert response.status == 200


async def test_the_worker_refunds_once_however_often_it_runs(client, buyer, db, ctx, provider):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])

    first = await process_due_refunds(ctx)
    again = await process_due_refunds(ctx)

    assert (first.succeeded, again.succeeded) == (1, 0)
    refund = await refund_of(alice, booking["id"])
    assert refund["status"] == "succeeded"
    assert provider.refunds_created == 1
    assert [c for c in provider.calls if c[0] == "create_refund"] == [
        ("create_refund", f"refund-{refund['id']}")
    ]


async def test_a_timeout_is_retried_with_the_same_key_and_refunds_once(
    client, buyer, db, ctx, provider
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])
    provider.timeouts = 1  # the provider refunds, but the answer never arrives

    assert (await process_due_refunds(ctx)).retried == 1
    refund = await refund_of(alice, booking["id"])
    assert (refund["status"], refund["attempts"]) == ("pending", 1)
    assert "PaymentTimeout" in refund["last_error"]

    assert (await process_due_refunds(ctx)).succeeded == 1
    refund = await refund_of(alice, booking["id"])
    assert (refund["status"], refund["last_error"]) == ("succeeded", None)
    calls = [c for c in provider.calls if c[0] == "create_refund"]
    assert calls == [("create_refund", f"refund-{refund['id']}")] * 2
    assert provider.refunds_created == 1


async def test_a_refund_fails_for_good_after_the_last_attempt(
    client, buyer, db, ctx, provider, outbox
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])
    provider.outages = 10

    rounds = [await process_due_refunds(ctx) for _ in range(4)]

    assert [(r.retried, r.failed) for r in rounds] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    refund = await refund_of(alice, booking["id"])
    assert (refund["status"], refund["attempts"]) == ("failed", 3)
    assert "PaymentUnavailable" in refund["last_error"]
    assert provider.refunds_created == 0
    messages = await outbox.messages("analytics", "refund.changed")
    assert [m.payload["transition"] for m in messages] == ["created", "failed"]


async def test_a_refund_the_provider_refuses_fails_at_once(client, buyer, db, ctx, provider):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])
    provider.refund_behaviour = "fail"

    assert (await process_due_refunds(ctx)).failed == 1
    refund = await refund_of(alice, booking["id"])
    assert (refund["status"], refund["last_error"]) == ("failed", "refused_by_provider")


async def test_a_pending_refund_is_settled_once_by_its_signed_webhook(
    client, buyer, db, ctx, provider, outbox
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])
    provider.refund_behaviour = "pend"
    assert (await process_due_refunds(ctx)).pending == 1
    assert (await refund_of(alice, booking["id"]))["status"] == "pending"
    (provider_refund,) = provider.refunds.values()
    body, headers = provider.complete_refund(provider_refund.id)

    receipts = []
    for _ in range(2):  # the provider delivers at least once: here, twice
        response = await client.post("/api/v1/payments/webhooks", data=body, headers=headers)
        assert response.status == 200, await response.text()
        receipts.append(await response.json())

    assert [r["applied"] for r in receipts] == [True, False]
    assert receipts[0]["type"] == "refund.succeeded"
    assert (await refund_of(alice, booking["id"]))["status"] == "succeeded"
    assert (await process_due_refunds(ctx)).succeeded == 0
    assert provider.refunds_created == 1
    messages = await outbox.messages("analytics", "refund.changed")
    assert [m.payload["transition"] for m in messages] == ["created", "succeeded"]


async def test_a_webhook_that_does_not_verify_is_refused_and_changes_nothing(
    client, buyer, db, ctx, provider
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])
    provider.refund_behaviour = "pend"
    await process_due_refunds(ctx)
    (provider_refund,) = provider.refunds.values()
    body, headers = provider.complete_refund(provider_refund.id)
    header = provider.signature_header
    forged = json.dumps({**json.loads(body), "id": "evt_forged"}).encode()
    stale_t = int(time.time()) - 3600
    stale = headers[header].replace(headers[header].split(",")[0], f"t={stale_t}")

    for data, signature in (
        (forged, headers[header]),  # the body was changed
        (body, None),  # no signature
        (body, stale),  # an old (replayed) timestamp
        (body, "t=1,v0=abc"),  # no v1 signature
    ):
        sent = {"Content-Type": "application/json"}
        if signature is not None:
            sent[header] = signature
        response = await client.post("/api/v1/payments/webhooks", data=data, headers=sent)
        problem = await response.json()
        assert (response.status, problem["code"]) == (400, "invalid_webhook"), problem

    assert (await refund_of(alice, booking["id"]))["status"] == "pending"


async def test_a_provider_bug_counts_as_an_attempt_and_ends_visible(
    client, buyer, db, ctx, provider, monkeypatch
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = await paid_booking(ctx, db, alice, 1)
    await alice.cancel(booking["id"])

    async def broken(**_kwargs):
        raise RuntimeError("provider client bug")

    monkeypatch.setattr(provider, "create_refund", broken)
    rounds = [await process_due_refunds(ctx) for _ in range(3)]

    assert [(r.retried, r.failed) for r in rounds] == [(1, 0), (1, 0), (0, 1)]
    refund = await refund_of(alice, booking["id"])
    assert (refund["status"], refund["attempts"]) == ("failed", 3)
    assert "RuntimeError: provider client bug" in refund["last_error"]
