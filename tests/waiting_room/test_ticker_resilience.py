"""The background ticker keeps going: a room whose tick fails is logged, counted and
retried, and never holds up the other rooms; each pass is visible in the metrics."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from evently.core.db import POOL
from evently.waiting_room.ticker import Ticker
from tests.waiting_room.conftest import configure_room, join, utc

T0 = utc(2030, 1, 1, 12, 0, 0)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_room_whose_tick_fails_does_not_hold_up_the_others(room, tokens):
    ticker = Ticker(room.app[POOL])
    for event_id in (1, 2):
        await configure_room(room, event_id, admission_rate_per_minute=600)
    await ticker.tick(T0)  # both rooms open
    for event_id in (1, 2):
        await join(room, tokens, event_id, 7)
    failures = sample("evently_waiting_room_tick_failures_total")

    # Another transaction holds room 1's row: its tick waits out the lock timeout and fails.
    async with room.app[POOL].acquire() as blocker, blocker.transaction():
        await blocker.execute("SELECT 1 FROM waiting_room.rooms WHERE event_id = 1 FOR UPDATE")
        first, second = await ticker.tick(T0 + timedelta(seconds=1))

    assert first.failed and first.admitted == 0
    assert second.ticked and second.admitted == 1  # room 2 was ticked all the same
    assert sample("evently_waiting_room_tick_failures_total") == failures + 1
    retried, _ = await ticker.tick(T0 + timedelta(seconds=2))  # the next pass retries room 1
    assert retried.admitted == 1


async def test_each_pass_exports_queue_length_active_shoppers_and_its_time(room, tokens):
    ticker = Ticker(room.app[POOL])
    await configure_room(room, 41, admission_rate_per_minute=60, max_active_shoppers=10)
    await ticker.tick(T0)
    for user_id in (1, 2, 3):
        await join(room, tokens, 41, user_id)
    before = sample("evently_waiting_room_last_tick_timestamp_seconds")
    await ticker.tick(T0 + timedelta(seconds=1))  # admits one
    assert sample("evently_waiting_room_queue_length", event_id="41") == 2
    assert sample("evently_waiting_room_active_shoppers", event_id="41") == 1
    assert sample("evently_waiting_room_event_admissions_total", event_id="41") >= 1
    assert sample("evently_waiting_room_last_tick_timestamp_seconds") > before


async def test_admission_records_each_visitors_wait_since_joining(room, tokens):
    ticker = Ticker(room.app[POOL])
    await configure_room(room, 42, admission_rate_per_minute=60)
    await ticker.tick(T0)
    await join(room, tokens, 42, 1)  # joined now: far before T0 + 1 s in 2030
    count = sample("evently_waiting_room_wait_seconds_count")
    slow = sample("evently_waiting_room_wait_seconds_bucket", le="14400.0")
    await ticker.tick(T0 + timedelta(seconds=1))
    assert sample("evently_waiting_room_wait_seconds_count") == count + 1
    # Joined in the test's present, admitted in 2030: beyond the last bucket.
    assert sample("evently_waiting_room_wait_seconds_bucket", le="14400.0") == slow
