"""One ticker per room across replicas: two app instances on one database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from evently.core.db import POOL
from evently.waiting_room.ticker import tick_lock
from tests.waiting_room.conftest import configure_room, join, tick, utc

T0 = utc(2030, 1, 1, 12, 0, 0)


async def room_with_queue(room, tokens, visitors: int) -> None:
    await configure_room(room, 1, admission_rate_per_minute=600, max_active_shoppers=1000)
    await tick(room, 1, T0)
    for user_id in range(1, visitors + 1):
        await join(room, tokens, 1, user_id)


async def test_two_replicas_ticking_at_once_admit_one_ticks_worth(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())
    await room_with_queue(room, tokens, 50)
    now = T0 + timedelta(seconds=1)
    results = await asyncio.gather(tick(room, 1, now), tick(other, 1, now))
    # 10 per second: exactly one replica advanced the room, by exactly one second's worth.
    assert sorted(r.admitted for r in results) == [0, 10]
    serving = await room.app[POOL].fetchval("SELECT serving FROM waiting_room.rooms")
    assert serving == 10


async def test_a_replica_skips_a_room_another_is_ticking(
    room, tokens, aiohttp_client, make_room_app
):
    other = await aiohttp_client(make_room_app())
    await room_with_queue(room, tokens, 5)
    key = tick_lock(1)
    async with room.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
        skipped = await tick(other, 1, T0 + timedelta(seconds=1))
    assert not skipped.ticked and skipped.admitted == 0
    assert await room.app[POOL].fetchval("SELECT serving FROM waiting_room.rooms") == 0
    assert (await tick(other, 1, T0 + timedelta(seconds=1))).admitted == 5
