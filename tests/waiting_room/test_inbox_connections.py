"""Outbox deliveries have connections of their own (core/db.py ``INBOX_POOL``): a room
whose request pool is exhausted by visitors still hears that its event sold out."""

from __future__ import annotations

import asyncio
import contextlib

from evently.core.db import INBOX_POOL, POOL
from tests.waiting_room.conftest import configure_room, report_inventory

# Only bounds a hang (the delivery waiting for a pooled connection forever before the
# fix); nothing here measures how fast a delivery is.
HANG_BOUND_S = 30.0


async def test_a_delivery_lands_while_every_request_connection_is_held(
    aiohttp_client, make_room_app
):
    room = await aiohttp_client(make_room_app(DB_POOL_MAX="2", DB_INBOX_POOL_MAX="1"))
    await configure_room(room, 1)
    pool = room.app[POOL]
    async with contextlib.AsyncExitStack() as held:
        conns = [await held.enter_async_context(pool.acquire()) for _ in range(2)]
        assert pool.get_idle_size() == 0  # every request connection is taken
        delivery = asyncio.ensure_future(report_inventory(room, 1, 2, sold_out=True))
        done, _ = await asyncio.wait({delivery}, timeout=HANG_BOUND_S)
        assert delivery in done, "the delivery waited for a request connection"
        delivery.result()
        # Applied and committed while the request connections were still held.
        sold_out = await conns[0].fetchval(
            "SELECT sold_out FROM waiting_room.rooms WHERE event_id = 1"
        )
    assert sold_out is True


async def test_without_an_inbox_pool_deliveries_share_the_request_pool(
    aiohttp_client, make_room_app
):
    room = await aiohttp_client(make_room_app(DB_INBOX_POOL_MAX="0"))
    assert INBOX_POOL not in room.app
    await configure_room(room, 1)
    await report_inventory(room, 1, 2, sold_out=True)
    assert await room.app[POOL].fetchval("SELECT sold_out FROM waiting_room.rooms") is True
