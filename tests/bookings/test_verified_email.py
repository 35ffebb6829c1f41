"""Events that require a verified email refuse holds by buyers whose token does not say
their email is verified (the anti-hoarding defence); the setting reaches bookings through
its own copy of event.changed and is checked from memory."""

from __future__ import annotations

import uuid

import pytest

from evently.bookings.context import BOOKINGS
from tests.bookings.conftest import eventually, send_event


async def hold(client, tokens, user_id: int, event_id: int, *, verified: bool | None):
    claims = {} if verified is None else {"email_verified": verified}
    headers = {
        "Authorization": f"Bearer {tokens.token(user_id, **claims)}",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    response = await client.post(
        "/api/v1/bookings", json={"event_id": event_id, "quantity": 1}, headers=headers
    )
    return response.status, await response.json()


async def with_policy(client, event_id: int, required: bool, version: int = 1) -> None:
    await send_event(client, event_id, version, require_verified_email=required)
    await client.app[BOOKINGS].verified_email.reload()  # as the periodic reload does


@pytest.mark.parametrize("verified", [False, None])
async def test_a_hold_without_a_verified_email_is_refused_and_changes_nothing(
    client, tokens, db, verified
):
    await with_policy(client, 1, True)
    status, problem = await hold(client, tokens, 7, 1, verified=verified)
    assert (status, problem["code"]) == (403, "email_verification_required")
    assert problem["event_id"] == 1
    assert "/api/v1/users/email-verification" in problem["detail"]
    assert "/api/v1/auth/refresh" in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0
    assert await db.fetchval("SELECT reserved FROM bookings.inventory WHERE event_id = 1") == 0


async def test_a_hold_with_a_verified_email_goes_through(client, tokens):
    await with_policy(client, 1, True)
    status, booking = await hold(client, tokens, 7, 1, verified=True)
    assert status == 201, booking


async def test_an_event_without_the_requirement_lets_anyone_hold(client, tokens):
    await with_policy(client, 1, False)
    await send_event(client, 2)  # an event.changed from before the field existed
    await client.app[BOOKINGS].verified_email.reload()
    assert (await hold(client, tokens, 7, 1, verified=False))[0] == 201
    assert (await hold(client, tokens, 7, 2, verified=None))[0] == 201


async def test_switching_the_requirement_on_and_off_by_event_changed_reaches_the_hold_path(
    client, tokens
):
    await with_policy(client, 1, False)
    assert (await hold(client, tokens, 7, 1, verified=False))[0] == 201
    await with_policy(client, 1, True, version=2)
    assert (await hold(client, tokens, 8, 1, verified=False))[0] == 403
    await with_policy(client, 1, True, version=1)  # an older message changes nothing
    await with_policy(client, 1, False, version=3)
    assert (await hold(client, tokens, 8, 1, verified=False))[0] == 201


async def test_the_gate_is_reloaded_in_the_background_from_the_inbox_copy(
    aiohttp_client, bookings_app, tokens
):
    client = await aiohttp_client(bookings_app({"BOOKINGS_VERIFIED_EMAIL_REFRESH_S": "0.05"}))
    await send_event(client, 1, require_verified_email=True)
    gate = client.app[BOOKINGS].verified_email

    async def reloaded() -> bool:
        return gate.required(1)

    await eventually(reloaded)  # no explicit reload: the background one picks it up
    assert (await hold(client, tokens, 7, 1, verified=False))[0] == 403
