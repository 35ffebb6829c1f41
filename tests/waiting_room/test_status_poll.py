"""The status poll: an ETag per room state, and a 304 answered from memory."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from evently.core.db import POOL
from evently.waiting_room.context import WAITING_ROOM
from tests.waiting_room.conftest import bearer, configure_room, join, tick, utc

T0 = utc(2030, 1, 1, 12, 0, 0)


async def until(condition, what: str) -> None:
    """Wait for ``condition()`` (asynchronous delivery), at most a generous bound."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def poll(room, tokens, user_id: int, etag: str | None = None):
    headers = bearer(tokens, user_id) | ({"If-None-Match": etag} if etag else {})
    return await room.get("/api/v1/events/1/waiting-room/me", headers=headers)


async def test_an_unchanged_status_is_304_without_the_database(room, tokens):
    await configure_room(room, 1)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 5)
    first = await poll(room, tokens, 5)
    etag = first.headers["ETag"]
    assert first.status == 200 and first.headers["Cache-Control"] == "private, no-cache"

    await room.app[POOL].close()  # from here on, anything that needs the database fails
    again = await poll(room, tokens, 5, etag)
    assert again.status == 304 and again.headers["ETag"] == etag
    assert (await poll(room, tokens, 5)).status >= 500  # proof the database is gone


async def test_a_tick_that_admits_changes_the_etag_on_every_replica(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())  # a second replica, same database
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 5)
    etag = (await poll(other, tokens, 5)).headers["ETag"]
    assert (await poll(other, tokens, 5, etag)).status == 304

    versions = other.app[WAITING_ROOM].versions
    before = versions.current(1)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 1  # on replica one
    await until(lambda: versions.current(1) > before, "replica two hears of the tick")

    changed = await poll(other, tokens, 5, etag)
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert (await changed.json())["state"] == "admitted"


async def test_an_etag_names_its_visitor(room, tokens):
    await configure_room(room, 1)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 5)
    await join(room, tokens, 1, 6)
    etag_of_5 = (await poll(room, tokens, 5)).headers["ETag"]
    assert (await poll(room, tokens, 6, etag_of_5)).status == 200


async def test_a_waiting_visitor_polls_304_while_admissions_do_not_change_their_view(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())  # polled here, ticked on the first
    await configure_room(room, 1, admission_rate_per_minute=600, max_active_shoppers=1000)
    await tick(room, 1, T0)
    for user_id in range(1, 131):
        await join(room, tokens, 1, user_id)
    first = await poll(other, tokens, 130)
    etag, body = first.headers["ETag"], await first.json()
    # 129 ahead, shown rounded up to 150 (a wait of 15 s at 10 per second).
    assert (body["position"], body["ahead"], body["estimated_wait_s"]) == (130, 150, 15)
    versions = other.app[WAITING_ROOM].versions

    async def admit(seconds: int, admitted: int) -> None:
        before = versions.current(1)
        assert (await tick(room, 1, T0 + timedelta(seconds=seconds))).admitted == admitted
        await until(lambda: versions.current(1) > before, "replica two hears of the tick")

    await admit(1, 10)  # 119 ahead: still shown as 150, the room's version moved
    await room.app[POOL].close()  # a 304 needs no database: the first replica's pool
    again = await poll(other, tokens, 130, etag)
    assert again.status == 304 and again.headers["ETag"] == etag

    moved_room = await aiohttp_client(make_room_app())
    before = versions.current(1)
    assert (await tick(moved_room, 1, T0 + timedelta(seconds=4))).admitted == 30
    await until(lambda: versions.current(1) > before, "replica two hears of the tick")
    changed = await poll(other, tokens, 130, etag)  # 89 ahead: shown exactly
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert ((await changed.json())["ahead"], (await changed.json())["estimated_wait_s"]) == (
        89,
        9,
    )


async def test_a_new_admission_rate_changes_a_waiting_visitors_etag(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=60)
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    await join(room, tokens, 1, 2)
    etag = (await poll(room, tokens, 2)).headers["ETag"]
    assert (await poll(room, tokens, 2, etag)).status == 304
    await configure_room(room, 1, version=2, admission_rate_per_minute=30)
    changed = await poll(room, tokens, 2, etag)
    assert changed.status == 200 and (await changed.json())["estimated_wait_s"] == 2
