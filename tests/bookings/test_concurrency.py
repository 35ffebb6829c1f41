"""Never oversell: concurrent buyers, interleaved cancellations, lock timeouts, crashes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from unittest.mock import ANY

import asyncpg

from evently.bookings.inventory import event_lock
from tests.bookings.conftest import FAST_ENV, Buyer, seat_counts, send_event

INVARIANT_SQL = """
SELECT i.capacity, i.reserved,
       (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings b
        WHERE b.event_id = i.event_id AND b.status IN ('held', 'confirmed')) AS active,
       (SELECT coalesce(sum(quantity), 0) FROM bookings.bookings b
        WHERE b.event_id = i.event_id AND b.status = 'confirmed') AS confirmed,
       bookings.sold_seats(i.event_id) AS sold
FROM bookings.inventory i WHERE i.event_id = $1
"""


def assert_invariant(row: asyncpg.Record) -> None:
    """sold + held <= capacity, and the counters agree with the bookings themselves."""
    assert row["reserved"] <= row["capacity"], dict(row)
    assert row["reserved"] == row["active"], dict(row)
    assert row["sold"] == row["confirmed"], dict(row)


async def test_hold_never_exceeds_capacity_under_200_concurrent_buyers(client, buyer, db):
    await send_event(client, 1, capacity=100)
    results = await asyncio.gather(*(buyer(1000 + i).hold(1, 1) for i in range(200)))
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 100
    assert statuses.count(409) == 100
    assert all(body["code"] == "sold_out" for status, body in results if status == 409)
    counts = await seat_counts(db, 1)
    assert counts["reserved"] == counts["held_bookings"] == counts["capacity"] == 100


async def test_random_quantities_with_interleaved_cancels_keep_the_invariant_at_every_step(
    client, tokens, db
):
    capacity = 60
    await send_event(client, 1, capacity=capacity, max_per_user=5)
    done = asyncio.Event()
    checks = 0

    async def check_continuously() -> None:
        nonlocal checks
        while not done.is_set() and checks < 100_000:
            assert_invariant(await db.fetchrow(INVARIANT_SQL, 1))
            checks += 1
            await asyncio.sleep(0)

    async def shopper(user_id: int) -> None:
        rng = random.Random(user_id)
        me = Buyer(client, tokens, user_id)
        for _ in range(8):
            status, booking = await retrying_busy(me.hold, 1, rng.randint(1, 3))
            if status != 201:
                assert booking["code"] in {"sold_out", "per_user_limit_exceeded"}, booking
                continue
            action = rng.random()
            if action < 0.4:
                assert await retrying_busy(me.cancel, booking["id"]) == OK
            elif action < 0.8:
                assert await retrying_busy(me.confirm, booking["id"]) == OK
                if rng.random() < 0.3:
                    assert await retrying_busy(me.cancel, booking["id"]) == OK

    checker = asyncio.create_task(check_continuously())
    try:
        await asyncio.gather(*(shopper(2000 + i) for i in range(40)))
    finally:
        # Whatever a shopper met, stop the checker: left running, it would hold its
        # connection and hang the fixture's teardown until the suite's timeout.
        done.set()
        await checker
    assert checks > 0
    assert_invariant(await db.fetchrow(INVARIANT_SQL, 1))


OK = (200, ANY)  # a 200 with any body; a failure shows the body


async def retrying_busy(
    call: Callable[..., Awaitable[tuple[int, dict]]], *args: object
) -> tuple[int, dict]:
    """``call(*args)`` again while it answers 503 (a lock timeout on a loaded machine): the
    API documents 503 as retryable, and a retry changes nothing the invariant counts."""
    for _ in range(20):
        status, body = await call(*args)
        if status != 503:
            return status, body
        await asyncio.sleep(0.05)
    raise AssertionError(f"still 503 after 20 tries: {body}")


SHORT_LOCK_TIMEOUT = {**FAST_ENV, "BOOKINGS_LOCK_TIMEOUT_MS": "300"}


async def test_lock_timeout_is_503_with_retry_after_and_changes_nothing(
    aiohttp_client, bookings_app, tokens, db, database_url
):
    client = await aiohttp_client(bookings_app(SHORT_LOCK_TIMEOUT))
    buyer = lambda user_id: Buyer(client, tokens, user_id)  # noqa: E731
    await send_event(client, 1, capacity=10)
    key = event_lock(1)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            status, problem = await buyer(1).hold(1, 1, key="blocked")
            assert (status, problem["code"]) == (503, "lock_timeout")
    finally:
        await blocker.close()
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0
    assert await db.fetchval("SELECT count(*) FROM bookings.idempotency_keys") == 0
    assert (await seat_counts(db, 1))["reserved"] == 0
    # Nothing remembered the key: the retry goes through.
    assert (await buyer(1).hold(1, 1, key="blocked"))[0] == 201


async def test_lock_timeout_response_carries_retry_after(
    aiohttp_client, bookings_app, tokens, database_url
):
    client = await aiohttp_client(bookings_app(SHORT_LOCK_TIMEOUT))
    buyer = lambda user_id: Buyer(client, tokens, user_id)  # noqa: E731
    await send_event(client, 1, capacity=10)
    key = event_lock(1)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            response = await client.post(
                "/api/v1/bookings",
                json={"event_id": 1, "quantity": 1},
                headers={**buyer(1).headers, "Idempotency-Key": "x"},
            )
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            assert response.content_type == "application/problem+json"
    finally:
        await blocker.close()


async def test_connection_killed_mid_transaction_leaves_nothing_partial(
    aiohttp_client, bookings_app, tokens, database_url, db
):
    # A long lock timeout: the request must wait until we kill it, not give up.
    client = await aiohttp_client(bookings_app({**FAST_ENV, "BOOKINGS_LOCK_TIMEOUT_MS": "30000"}))
    await send_event(client, 1, capacity=10)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            # The hold blocks on its outbox write: after it has already updated the
            # inventory, inserted the booking and stored the idempotency key.
            await blocker.execute("LOCK TABLE bookings.outbox IN ACCESS EXCLUSIVE MODE")
            request = asyncio.create_task(Buyer(client, tokens, 1).hold(1, 2, key="doomed"))
            pid = None
            for _ in range(200):
                pid = await db.fetchval(
                    """SELECT pid FROM pg_stat_activity
                       WHERE query LIKE '%hold_seats%' AND wait_event_type = 'Lock'
                         AND pid <> pg_backend_pid()"""
                )
                if pid is not None:
                    break
                await asyncio.sleep(0.05)
            assert pid is not None, "the hold never reached its outbox write"
            assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
            status, problem = await request
    finally:
        await blocker.close()
    assert (status, problem["code"]) == (503, "database_unavailable")
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0
    assert await db.fetchval("SELECT count(*) FROM bookings.idempotency_keys") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM bookings.outbox WHERE topic = 'booking.changed'")
        == 0
    )
    assert (await seat_counts(db, 1))["reserved"] == 0
    # The key was never stored, so the client's retry books normally.
    assert (await Buyer(client, tokens, 1).hold(1, 2, key="doomed"))[0] == 201
