"""While an event's waiting room is active, a hold needs the room's admission token,
verified offline against the keys the real waiting room service publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from evently.bookings.context import BOOKINGS
from evently.core.admission_tokens import ADMISSION_KEY_VARIABLES, sign_admission
from evently.core.signing_keys import generate_signing_keys_json, load_key_ring
from tests.bookings.conftest import send_event
from tests.conftest import ADMISSION_SIGNING_KEYS

ROOM = {
    "enabled": True,
    "prequeue_opens_at": None,
    "admission_rate_per_minute": 60,
    "max_active_shoppers": 10,
    "session_ttl_s": 600,
    "when_sold_out": "offer_waitlist",
}


def admission_token(user_id: int, event_id: int, *, keys_json: str = ADMISSION_SIGNING_KEYS,
                    expires_in: timedelta = timedelta(minutes=5)) -> str:  # fmt: skip
    keys = load_key_ring(ADMISSION_KEY_VARIABLES, keys_json=keys_json, keys_dir="", active_kid="")
    now = datetime.now(UTC)
    return sign_admission(
        keys, user_id=user_id, event_id=event_id, ticket_id=1, issued_at=now,
        expires_at=now + expires_in,
    )  # fmt: skip


@pytest.fixture
async def bookings(aiohttp_server, aiohttp_client, make_app, bookings_app):
    """Bookings, finding the waiting room (serving its admission keys) on a real port."""
    room = await aiohttp_server(make_app("waiting_room", env={"WAITING_ROOM_TICKER_ENABLED": "0"}))
    return await aiohttp_client(bookings_app({"WAITING_ROOM_URL": f"http://127.0.0.1:{room.port}"}))


async def hold(client, tokens, user_id: int, event_id: int, token: str | None = None):
    headers = tokens.customer(user_id) | {"Idempotency-Key": uuid.uuid4().hex}
    if token is not None:
        headers["Admission-Token"] = token
    response = await client.post(
        "/api/v1/bookings", json={"event_id": event_id, "quantity": 1}, headers=headers
    )
    return response.status, await response.json()


async def with_room(client, event_id: int, room: dict | None = ROOM, version: int = 1) -> None:
    await send_event(client, event_id, version, waiting_room=room)
    await client.app[BOOKINGS].admission.reload()  # as the periodic reload does


async def test_a_hold_without_an_admission_token_is_refused(bookings, tokens, db):
    await with_room(bookings, 1)
    status, problem = await hold(bookings, tokens, 7, 1)
    assert (status, problem["code"]) == (403, "admission_required")
    assert "/api/v1/events/1/waiting-room/join" in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0


async def test_a_hold_with_the_buyers_token_for_the_event_goes_through(bookings, tokens):
    await with_room(bookings, 1)
    status, booking = await hold(bookings, tokens, 7, 1, admission_token(7, 1))
    assert status == 201, booking


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (lambda: admission_token(8, 1), "another user"),
        (lambda: admission_token(7, 2), "another event"),
        (lambda: admission_token(7, 1, expires_in=timedelta(seconds=-1)), "expired"),
        (lambda: admission_token(7, 1, keys_json=generate_signing_keys_json()), "unknown key"),
        (lambda: admission_token(7, 1)[:-6] + "AAAAAA", "Signature"),
        (lambda: "not-a-token", "token"),
    ],
)
async def test_a_token_for_someone_else_another_event_or_forged_is_refused(
    bookings, tokens, db, token, why
):
    await with_room(bookings, 1)
    status, problem = await hold(bookings, tokens, 7, 1, token())
    assert (status, problem["code"]) == (403, "admission_token_invalid")
    assert why in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0


async def test_without_a_room_or_once_it_is_switched_off_no_token_is_needed(bookings, tokens):
    await with_room(bookings, 1, room=None)
    assert (await hold(bookings, tokens, 7, 1))[0] == 201
    await with_room(bookings, 2)
    assert (await hold(bookings, tokens, 7, 2))[0] == 403
    await with_room(bookings, 2, room={**ROOM, "enabled": False}, version=2)
    assert (await hold(bookings, tokens, 7, 2))[0] == 201
