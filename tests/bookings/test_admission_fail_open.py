"""The waiting room's failure rule, with a real room service that is started, then
stopped: while its keys cannot be fetched, an event that fails open lets holds without
an admission token through (counted); one that fails closed (the default) refuses them."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from tests.bookings.test_admission_tokens import ROOM, hold, with_room

FAIL_OPEN = {**ROOM, "when_unavailable": "fail_open"}


def fail_open_count() -> float:
    return REGISTRY.get_sample_value("evently_bookings_admission_fail_open_total") or 0.0


async def test_a_fail_open_event_takes_holds_without_a_token_only_while_the_room_is_down(
    aiohttp_server, aiohttp_client, make_app, bookings_app, tokens
):
    room = await aiohttp_server(make_app("waiting_room", env={"WAITING_ROOM_TICKER_ENABLED": "0"}))
    bookings = await aiohttp_client(
        bookings_app({"WAITING_ROOM_URL": f"http://127.0.0.1:{room.port}"})
    )
    await with_room(bookings, 1, FAIL_OPEN)
    await with_room(bookings, 2)  # the default: fail closed
    before = fail_open_count()

    # The room is up: its keys can be fetched, so a token is needed as usual.
    status, body = await hold(bookings, tokens, 7, 1)
    assert (status, body["code"]) == (403, "admission_required")

    await room.close()  # the room service goes down

    # The last successful fetch is remembered a few seconds; then fetching fails.
    for _ in range(200):
        status, body = await hold(bookings, tokens, 7, 1)
        if status != 403:
            break
        assert body["code"] == "admission_required"
        await asyncio.sleep(0.1)
    assert status == 201, body
    assert fail_open_count() == before + 1
    status, body = await hold(bookings, tokens, 8, 2)  # fails closed, room down or not
    assert (status, body["code"]) == (403, "admission_required")
    assert fail_open_count() == before + 1


async def test_the_failure_rule_reaches_bookings_and_defaults_to_fail_closed(
    aiohttp_client, bookings_app, db
):
    bookings = await aiohttp_client(bookings_app())
    await with_room(bookings, 1, FAIL_OPEN)
    await with_room(bookings, 2, ROOM)  # an older message, without the field
    await with_room(bookings, 1, ROOM, version=2)  # switched back to fail closed
    await with_room(bookings, 3, FAIL_OPEN)
    rows = await db.fetch("SELECT event_id, fail_open FROM bookings.waiting_rooms ORDER BY 1")
    assert [tuple(r) for r in rows] == [(1, False), (2, False), (3, True)]
