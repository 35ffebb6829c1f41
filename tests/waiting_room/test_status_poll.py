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
