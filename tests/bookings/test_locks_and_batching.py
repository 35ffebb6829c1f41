"""The lock helper's SQL side and the hot path's batching, on their own."""

from __future__ import annotations

import asyncio
from importlib import resources

import asyncpg
import pytest

from evently.bookings.batching import Batcher, Batchers
from evently.core.locks import TAKE_LOCKS_FUNCTION_SQL, LockKey, LockRequest


def test_bookings_sql_defines_the_helpers_lock_function_verbatim():
    source = resources.files("evently.bookings").joinpath("sql/take_advisory_xact_locks.sql")
    installed = TAKE_LOCKS_FUNCTION_SQL.strip().replace("SCHEMA.", "bookings.")
    assert installed in source.read_text()


def test_lock_request_sorts_and_dedupes_keys_but_keeps_probe_positions():
    a, b = LockKey.of("event", 2), LockKey.of("event", 1)
    probe_x, probe_y = LockKey.of("idem", "x"), LockKey.of("idem", "y")
    request = LockRequest.of([a, b, a], [probe_y, probe_x])
    assert request.keys == tuple(sorted({a, b}))
    assert request.probes == (probe_y, probe_x)
    key_ns, key_ids, probe_ns, probe_ids = request.arguments()
    assert list(zip(key_ns, key_ids, strict=True)) == [(k.namespace, k.ident) for k in request.keys]
    assert (probe_ns[0], probe_ids[0]) == (probe_y.namespace, probe_y.ident)
    assert LockKey.of("event", 2**40 + 5).ident == 5


async def test_lock_function_reports_busy_probes_and_times_out_cleanly(database_url):
    holder = await asyncpg.connect(database_url)
    caller = await asyncpg.connect(database_url)
    busy, free, key = LockKey.of("t", 1), LockKey.of("t", 2), LockKey.of("t", 3)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1, $2)", busy.namespace, busy.ident)
            args = LockRequest.of([key], [free, busy]).arguments()
            async with caller.transaction():
                row = await caller.fetchrow(
                    "SELECT * FROM bookings.take_advisory_xact_locks($1, $2, $3, $4, 1000)", *args
                )
                assert row["busy_probes"] == [2]
                assert row["lock_wait_s"] >= 0
            await holder.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            with pytest.raises(asyncpg.LockNotAvailableError):
                await caller.fetchrow(
                    "SELECT * FROM bookings.take_advisory_xact_locks($1, $2, $3, $4, 100)",
                    *LockRequest.of([key]).arguments(),
                )
    finally:
        await holder.close()
        await caller.close()


async def test_batcher_gathers_concurrent_items_and_answers_each_in_order():
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await release.wait()
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(run, max_batch=3)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert [await task for task in rest] == [20, 30, 40, 50, 60]
    # An idle batcher sends at once; later arrivals gather while a batch runs.
    assert batches == [[1], [2, 3, 4], [5, 6]]
    assert batcher.idle


async def test_a_failed_batch_fails_only_its_own_items():
    calls = 0

    async def run(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if "bad" in items:
            raise RuntimeError("database said no")
        return items

    batchers: Batchers[int, str, str] = Batchers(lambda _key, items: run(items), max_batch=10)
    with pytest.raises(RuntimeError):
        await batchers.submit(1, "bad")
    assert await batchers.submit(1, "good") == "good"
    assert calls == 2
