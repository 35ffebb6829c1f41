"""The transactional outbox and its relay (core/outbox.py), against real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import asyncpg
import pytest
from prometheus_client import REGISTRY

from evently.core.db import create_pool, init_connection
from evently.core.outbox import (
    Acknowledged,
    HttpConsumer,
    OutboxMessage,
    OutboxRelay,
    backoff_seconds,
    enqueue,
)
from tests.conftest import INTERNAL_API_KEY
from tests.support.outbox_peers import (
    InFlight,
    RecordingConsumer,
    create_outbox_schema,
    inbox_app,
    wait_until,
)

SOURCE = "relaytest"


@pytest.fixture
async def dsn(database_url: str) -> str:
    await create_outbox_schema(database_url, SOURCE)
    return database_url


@pytest.fixture
async def conn(dsn: str):
    connection = await asyncpg.connect(dsn)
    await init_connection(connection)
    yield connection
    await connection.close()


async def put(conn, key: str | int, version: int, topic: str = "thing.changed", **payload) -> None:
    """Commit one change's message."""
    async with conn.transaction():
        await enqueue(conn, SOURCE, topic, key, version, {"v": version, **payload})


def make_relay(dsn: str, consumers: dict, **options) -> OutboxRelay:
    """A relay routing this test's topic to every one of ``consumers``."""
    return OutboxRelay(
        dsn, SOURCE, consumers, routes={"thing.changed": tuple(consumers)}, **options
    )


async def pending(conn, consumer: str = "c1") -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT * FROM {SOURCE}.outbox WHERE (consumer = $1 OR consumer IS NULL)
            AND delivered_at IS NULL ORDER BY id""",
        consumer,
    )


def keyed(messages: list[OutboxMessage]) -> list[tuple[str, int]]:
    return [(m.key, m.version) for m in messages]


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay):
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- enqueue -------------------------------------------------------------------------


async def test_enqueue_writes_the_message_once_and_the_relay_sends_that_row_to_each_consumer(
    conn, dsn
):
    await put(conn, 42, 3, price="49.90")
    [row] = await conn.fetch(f"SELECT * FROM {SOURCE}.outbox")
    assert (row["consumer"], row["topic"], row["key"], row["version"]) == (
        None,
        "thing.changed",
        "42",
        3,
    )
    assert row["payload"] == {"v": 3, "price": "49.90"}
    assert row["attempts"] == 0 and row["delivered_at"] is None
    await put(conn, 42, 4)
    consumers = {name: RecordingConsumer(name) for name in ("bookings", "search", "analytics")}
    relay = make_relay(dsn, consumers)
    assert await relay.deliver_pending(conn) == 6
    for consumer in consumers.values():
        assert [(m.id, m.version) for m in consumer.received] == [
            (row["id"], 3),
            (row["id"] + 1, 4),
        ]
    # One row per message, no copies: each row is delivered once all three have it.
    rows = await conn.fetch(f"SELECT consumer, version, delivered_at FROM {SOURCE}.outbox")
    assert [(r["consumer"], r["version"]) for r in rows] == [(None, 3), (None, 4)]
    assert all(r["delivered_at"] is not None for r in rows)
    assert await relay.deliver_pending(conn) == 0


async def test_a_consumer_that_failed_gets_a_queued_copy_sent_under_the_original_id(conn, dsn):
    await put(conn, "a", 1)
    await put(conn, "b", 1)
    [a1, _] = await pending(conn)
    good, bad = RecordingConsumer("good"), RecordingConsumer("bad", reject_keys={"a"})
    relay = make_relay(dsn, {"good": good, "bad": bad})
    assert await relay.deliver_pending(conn) == 3
    # The message is delivered (the good consumer has it); the bad one has a copy queued.
    [copy] = await conn.fetch(f"SELECT * FROM {SOURCE}.outbox WHERE delivered_at IS NULL")
    assert (copy["consumer"], copy["origin_id"], copy["key"], copy["attempts"]) == (
        "bad",
        a1["id"],
        "a",
        1,
    )
    # Its key's next message waits behind the copy for the bad consumer only (the copy
    # backs off; held back an hour here, so that no retry falls in this round).
    await conn.execute(
        f"UPDATE {SOURCE}.outbox SET next_attempt_at = now() + interval '1 hour' "
        "WHERE delivered_at IS NULL"
    )
    await put(conn, "a", 2)
    a2_id = await conn.fetchval(f"SELECT max(id) FROM {SOURCE}.outbox WHERE consumer IS NULL")
    good.batches.clear()
    bad.batches.clear()
    assert await relay.deliver_pending(conn) == 1
    assert keyed(good.received) == [("a", 2)] and bad.received == []
    bad.reject_keys.clear()
    await conn.execute(f"UPDATE {SOURCE}.outbox SET next_attempt_at = now()")
    assert await relay.deliver_pending(conn) == 2
    assert [(m.id, m.key, m.version) for m in bad.received] == [
        (a1["id"], "a", 1),
        (a2_id, "a", 2),
    ]
    assert (
        await conn.fetchval(f"SELECT count(*) FROM {SOURCE}.outbox WHERE delivered_at IS NULL") == 0
    )


async def test_a_slow_consumer_does_not_hold_back_the_others(conn, dsn):
    """All consumers of a batch are sent it at the same time."""
    await put(conn, "a", 1)
    in_flight = InFlight()
    consumers = {
        name: RecordingConsumer(name, delay_s=0.2, in_flight=in_flight)
        for name in ("c1", "c2", "c3")
    }
    relay = make_relay(dsn, consumers)
    assert await relay.deliver_pending(conn) == 3
    assert in_flight.most == 3


async def test_a_consumer_that_is_down_gets_new_messages_queued_without_being_called(conn, dsn):
    await put(conn, "a", 1)
    up, down = RecordingConsumer("up"), RecordingConsumer("down", raise_error=True)
    # Backoffs of a minute and more: no retry can fall due during the test.
    relay = make_relay(dsn, {"up": up, "down": down}, backoff_base_s=60, max_backoff_s=600)
    assert await relay.deliver_pending(conn) == 1
    assert down.calls == 1
    await put(conn, "b", 1)
    assert await relay.deliver_pending(conn) == 1
    assert down.calls == 1  # backing off: not called again
    queued = await conn.fetch(
        f"SELECT key, attempts, next_attempt_at > now() AS later FROM {SOURCE}.outbox "
        "WHERE consumer = 'down' AND delivered_at IS NULL ORDER BY id"
    )
    assert [(r["key"], r["attempts"], r["later"]) for r in queued] == [
        ("a", 1, True),
        ("b", 0, True),
    ]
    assert keyed(up.received) == [("a", 1), ("b", 1)]


async def test_a_message_the_earlier_relay_failed_in_place_keeps_its_order(conn, dsn):
    """Upgrade: a single-consumer topic's row retried in place by the routing relay is
    moved to its consumer's queue, and its key's later messages wait behind it."""
    await put(conn, "a", 1)
    await conn.execute(f"UPDATE {SOURCE}.outbox SET attempts = 3, next_attempt_at = now()")
    await put(conn, "a", 2)
    c1 = RecordingConsumer("c1")
    relay = make_relay(dsn, {"c1": c1})
    assert await relay.adopt_old_failures(conn) == 1
    assert await relay.deliver_pending(conn) == 2
    assert keyed(c1.received) == [("a", 1), ("a", 2)]


async def test_a_message_of_a_topic_nobody_consumes_stays_unrouted_and_counted(conn, dsn):
    await put(conn, "k", 1, topic="nobody.listens")
    c1 = RecordingConsumer("c1")
    relay = make_relay(dsn, {"c1": c1})
    assert await relay.deliver_pending(conn) == 0
    assert await conn.fetchval(f"SELECT count(*) FROM {SOURCE}.outbox WHERE consumer IS NULL") == 1
    assert await relay.count_unroutable(conn) == 1  # the relay counts them once a minute
    assert REGISTRY.get_sample_value("evently_outbox_unrouted_messages", {"source": SOURCE}) == 1
    assert c1.received == []


async def test_enqueue_works_on_a_connection_without_json_codecs(dsn):
    plain = await asyncpg.connect(dsn)
    try:
        async with plain.transaction():
            await enqueue(plain, SOURCE, "t", "k", 1, {"a": [1, 2]})
        assert await plain.fetchval(f"SELECT payload->'a' = '[1,2]' FROM {SOURCE}.outbox")
    finally:
        await plain.close()


async def test_enqueue_notifies_the_relay_only_when_the_transaction_commits(conn, dsn):
    listener = await asyncpg.connect(dsn)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(f"{SOURCE}_outbox", lambda *args: heard.put_nowait(args[2]))
    try:
        with contextlib.suppress(RuntimeError):
            async with conn.transaction():
                await enqueue(conn, SOURCE, "t", "k", 1, {})
                raise RuntimeError("rolled back")
        assert await conn.fetchval(f"SELECT count(*) FROM {SOURCE}.outbox") == 0
        await put(conn, "k", 2)
        async with asyncio.timeout(5):
            await heard.get()
        await asyncio.sleep(0.05)  # a rolled-back NOTIFY would have arrived before this one
        assert heard.empty()
    finally:
        await listener.close()


# --- delivery ------------------------------------------------------------------------


async def test_relay_delivers_in_order_per_key_to_each_consumer(conn, dsn):
    for version in (1, 2, 3):
        await put(conn, "a", version)
        await put(conn, "b", version)
    c1, c2 = RecordingConsumer("c1"), RecordingConsumer("c2")
    relay = make_relay(dsn, {"c1": c1, "c2": c2})
    assert await relay.deliver_pending(conn) == 12
    expected = [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 3)]
    assert keyed(c1.received) == expected and keyed(c2.received) == expected
    assert await pending(conn, "c1") == [] and await pending(conn, "c2") == []
    assert await relay.deliver_pending(conn) == 0  # delivered once, not again
    assert len(c1.received) == 6


async def test_batches_are_bounded_and_stay_in_order(conn, dsn):
    for version in range(1, 8):
        await put(conn, "a", version)
    c1 = RecordingConsumer()
    relay = make_relay(dsn, {"c1": c1}, batch_size=3)
    rounds = [await relay.deliver_pending(conn) for _ in range(4)]
    assert rounds == [3, 3, 1, 0]
    assert [m.version for m in c1.received] == list(range(1, 8))


async def test_a_rejected_message_backs_off_and_holds_back_only_its_key(conn, dsn):
    await put(conn, "a", 1)
    await put(conn, "b", 1)
    await put(conn, "a", 2)
    c1 = RecordingConsumer(reject_keys={"a"})
    relay = make_relay(dsn, {"c1": c1}, max_backoff_s=0.2)
    assert await relay.deliver_pending(conn) == 1
    rows = await pending(conn)
    assert [(r["key"], r["version"], r["attempts"]) for r in rows] == [("a", 1, 1), ("a", 2, 1)]
    assert all(r["last_error"] == "not acknowledged by the consumer" for r in rows)
    assert await conn.fetchval(
        f"SELECT bool_and(next_attempt_at > now()) FROM {SOURCE}.outbox "
        "WHERE key = 'a' AND delivered_at IS NULL"
    )
    # While "a" backs off, new messages of other keys keep flowing; "a" is not retried yet.
    await put(conn, "b", 2)
    c1.batches.clear()
    assert await relay.deliver_pending(conn) == 1
    assert keyed(c1.received) == [("b", 2)]
    # Once the consumer recovers and the backoff passes, "a" arrives in order.
    c1.reject_keys.clear()
    await asyncio.sleep(0.25)
    c1.batches.clear()
    assert await relay.deliver_pending(conn) == 2
    assert keyed(c1.received) == [("a", 1), ("a", 2)]


async def test_a_later_message_acknowledged_before_its_predecessor_is_sent_again(conn, dsn):
    await put(conn, "a", 1)
    await put(conn, "a", 2)
    first_id = (await pending(conn))[0]["id"]
    c1 = RecordingConsumer(skip_ack={first_id})
    relay = make_relay(dsn, {"c1": c1}, max_backoff_s=0.05)
    assert await relay.deliver_pending(conn) == 0
    assert [r["version"] for r in await pending(conn)] == [1, 2]
    c1.skip_ack.clear()
    await asyncio.sleep(0.1)
    assert await relay.deliver_pending(conn) == 2
    assert [m.version for m in c1.received] == [1, 2, 1, 2]


async def test_a_consumer_that_is_down_is_retried_with_growing_backoff(conn, dsn):
    await put(conn, "a", 1)
    c1 = RecordingConsumer(raise_error=True)
    relay = make_relay(dsn, {"c1": c1}, max_backoff_s=60)
    await relay.deliver_pending(conn)
    row = (await pending(conn))[0]
    assert row["attempts"] == 1
    assert row["last_error"] == "ConnectionError: recorder is down"
    delay = await conn.fetchval(
        f"SELECT extract(epoch FROM next_attempt_at - now()) FROM {SOURCE}.outbox "
        "WHERE delivered_at IS NULL"
    )
    assert 0 < delay <= 0.5
    await conn.execute(f"UPDATE {SOURCE}.outbox SET next_attempt_at = now()")
    await relay.deliver_pending(conn)
    row = (await pending(conn))[0]
    assert row["attempts"] == 2
    delay = await conn.fetchval(
        f"SELECT extract(epoch FROM next_attempt_at - now()) FROM {SOURCE}.outbox "
        "WHERE delivered_at IS NULL"
    )
    assert 0.5 < delay <= 1.0


def test_backoff_doubles_from_half_a_second_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_seconds(30) == 60.0
    assert backoff_seconds(30, cap_s=5) == 5


async def test_redelivery_after_a_lost_acknowledgement_is_applied_once(
    conn, dsn, database_url, aiohttp_server
):
    """A crash between the consumer applying a batch and the relay recording the ack:
    the batch is sent again, and the consumer's inbox makes the second time a no-op."""
    await conn.execute(
        f"CREATE TABLE {SOURCE}.applied (message_id bigint, key text, version bigint)"
    )

    async def apply(connection, message) -> None:
        await connection.execute(
            f"INSERT INTO {SOURCE}.applied VALUES ($1, $2, $3)",
            message.id,
            message.key,
            message.version,
        )

    pool = await create_pool_for(database_url)
    server = await aiohttp_server(
        inbox_app(pool, SOURCE, {"thing.changed": apply}, INTERNAL_API_KEY)
    )
    async with aiohttp.ClientSession() as session:
        http = HttpConsumer(lambda: session, str(server.make_url("")), INTERNAL_API_KEY)

        class AckLost:
            """Delivers for real, then fails as if the relay died before recording it."""

            async def deliver(self, source, messages):
                await http.deliver(source, messages)
                raise ConnectionResetError("relay crashed before recording the ack")

        for version in (1, 2, 3):
            await put(conn, "a", version)
        relay = make_relay(dsn, {"c1": AckLost()}, max_backoff_s=0.01)
        await relay.deliver_pending(conn)
        assert len(await pending(conn)) == 3  # not marked: will be sent again
        relay.consumers["c1"] = http
        await asyncio.sleep(0.02)
        assert await relay.deliver_pending(conn) == 3
    await pool.close()
    applied = await conn.fetch(f"SELECT key, version FROM {SOURCE}.applied ORDER BY message_id")
    assert [tuple(r) for r in applied] == [("a", 1), ("a", 2), ("a", 3)]
    assert await pending(conn) == []


async def create_pool_for(dsn: str) -> asyncpg.Pool:
    from evently.core.settings import CommonSettings

    settings = CommonSettings(database_url=dsn, internal_api_key=INTERNAL_API_KEY)
    return await create_pool(settings, "outbox-test", min_size=1, max_size=4)


# --- replicas --------------------------------------------------------------------------


async def test_two_relays_at_once_never_deliver_concurrently_and_never_twice(conn, dsn):
    in_flight = InFlight()
    first = RecordingConsumer("first", delay_s=0.005, in_flight=in_flight)
    second = RecordingConsumer("second", delay_s=0.005, in_flight=in_flight)
    relays = [
        make_relay(dsn, {"c1": first}, poll_interval_s=0.05, batch_size=5),
        make_relay(dsn, {"c1": second}, poll_interval_s=0.05, batch_size=5),
    ]

    async def all_delivered() -> bool:
        return not await pending(conn)

    async with running(*relays):
        for version in range(1, 41):
            await put(conn, f"k{version % 4}", version)
        await wait_until(all_delivered)
    delivered = first.received + second.received
    assert in_flight.most == 1
    assert sorted(m.id for m in delivered) == sorted({m.id for m in delivered})
    assert len(delivered) == 40
    # One of them held the lock and did all the work.
    assert sorted([len(first.received), len(second.received)]) == [0, 40]


def in_order_at_least_once(messages: list[OutboxMessage], versions: list[int]) -> bool:
    """Every version arrived, in order; a re-delivery may repeat the latest one."""
    seen = [m.version for m in messages]
    return sorted(set(seen)) == versions and seen == sorted(seen)


async def test_when_the_delivering_relay_stops_another_takes_over(conn, dsn):
    a, b = RecordingConsumer("a"), RecordingConsumer("b")
    relay_a = make_relay(dsn, {"c1": a}, poll_interval_s=0.05)
    relay_b = make_relay(dsn, {"c1": b}, poll_interval_s=0.05)

    async def all_delivered() -> bool:
        return not await pending(conn)

    async with running(relay_a) as (task_a,):
        await put(conn, "k", 1)
        await wait_until(all_delivered)
        async with running(relay_b):
            await put(conn, "k", 2)
            await wait_until(all_delivered)
            assert b.received == []
            task_a.cancel()  # the leader's replica goes away; its session ends
            with contextlib.suppress(asyncio.CancelledError):
                await task_a
            await put(conn, "k", 3)
            await wait_until(all_delivered)
    assert [m.version for m in a.received] == [1, 2]
    assert [m.version for m in b.received] == [3]


async def test_relay_reconnects_after_losing_its_database_session(conn, dsn):
    c1 = RecordingConsumer()
    relay = make_relay(dsn, {"c1": c1}, poll_interval_s=0.05)

    async def all_delivered() -> bool:
        return not await pending(conn)

    async with running(relay):
        await put(conn, "k", 1)
        await wait_until(all_delivered)
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert killed == 1
        await put(conn, "k", 2)
        await wait_until(all_delivered)
    # Killed mid-delivery, a message is sent again, never skipped or reordered.
    assert in_order_at_least_once(c1.received, [1, 2])


async def test_notify_wakes_the_relay_long_before_its_poll(conn, dsn):
    c1 = RecordingConsumer()
    relay = make_relay(dsn, {"c1": c1}, poll_interval_s=60)
    async with running(relay):
        await put(conn, "k", 1)  # delivered at start-up or on NOTIFY
        await wait_until(lambda: len(c1.received) == 1, timeout_s=10)
        await put(conn, "k", 2)  # the relay is now idle until NOTIFY (poll: 60 s)
        await wait_until(lambda: len(c1.received) == 2, timeout_s=10)


async def test_delivered_messages_are_purged_after_the_retention(conn, dsn):
    c1 = RecordingConsumer()
    relay = make_relay(dsn, {"c1": c1}, poll_interval_s=0.05, retention_s=0)
    await put(conn, "k", 1)

    async def purged() -> bool:
        return await conn.fetchval(f"SELECT count(*) FROM {SOURCE}.outbox") == 0

    async with running(relay):
        await wait_until(purged)
    assert len(c1.received) == 1


# --- metrics ---------------------------------------------------------------------------


def gauge(name: str, consumer: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"source": SOURCE, "consumer": consumer})


async def test_pending_count_and_lag_are_visible_while_a_consumer_fails(conn, dsn):
    await put(conn, "k", 1)
    await put(conn, "k", 2)
    consumer = RecordingConsumer(raise_error=True)
    relay = make_relay(dsn, {"lagging": consumer}, max_backoff_s=0.01)
    failed_before = (
        REGISTRY.get_sample_value(
            "evently_outbox_deliveries_total",
            {"source": SOURCE, "consumer": "lagging", "outcome": "failed"},
        )
        or 0
    )
    await asyncio.sleep(0.02)
    await relay.deliver_pending(conn)
    assert gauge("evently_outbox_pending_messages", "lagging") == 2
    assert gauge("evently_outbox_lag_seconds", "lagging") > 0
    failed = REGISTRY.get_sample_value(
        "evently_outbox_deliveries_total",
        {"source": SOURCE, "consumer": "lagging", "outcome": "failed"},
    )
    assert failed - failed_before == 2
    consumer.raise_error = False
    await asyncio.sleep(0.02)
    await relay.deliver_pending(conn)
    assert gauge("evently_outbox_pending_messages", "lagging") == 0
    assert gauge("evently_outbox_lag_seconds", "lagging") == 0


async def test_a_failure_after_rounds_that_found_no_retries_still_holds_back_its_key(conn, dsn):
    """The relay skips the search for keys waiting on a retry once a round found none;
    its own failure must bring the search back before the key's next message goes."""
    consumer = RecordingConsumer()
    relay = make_relay(dsn, {"c1": consumer})
    await put(conn, "k", 1)
    await put(conn, "other", 1)
    assert await relay.deliver_pending(conn) == 2
    await put(conn, "k", 2)
    consumer.reject_keys = {"k"}
    assert await relay.deliver_pending(conn) == 0  # k v2 now waits on its retry (0.5 s)
    consumer.reject_keys = set()
    await put(conn, "k", 3)
    await put(conn, "other", 2)
    assert await relay.deliver_pending(conn) == 1
    assert keyed(consumer.batches[-1]) == [("other", 2)]
    assert [r["version"] for r in await pending(conn)] == [2, 3]


class DeferringConsumer(RecordingConsumer):
    """Acknowledges the first ``take`` messages of each batch and defers the rest, as an
    inbox whose time budget ran out does."""

    take: int = 1

    async def deliver(self, source: str, messages: list[OutboxMessage]) -> set[int]:
        self.batches.append(list(messages))
        ids = [m.id for m in messages]
        return Acknowledged(set(ids[: self.take]), set(ids[self.take :]))


async def test_deferred_messages_are_sent_again_at_once_without_counting_an_attempt(conn, dsn):
    for version in (1, 2, 3):
        await put(conn, "a", version)
    c1 = DeferringConsumer()
    relay = make_relay(dsn, {"c1": c1}, max_backoff_s=60)
    assert await relay.deliver_pending(conn) == 1
    rows = await pending(conn)
    assert [(r["version"], r["attempts"], r["last_error"]) for r in rows] == [
        (2, 0, None),
        (3, 0, None),
    ]
    # Due at once: the next round takes them, in order, with no backoff to wait out.
    assert await relay.deliver_pending(conn) == 1
    assert await relay.deliver_pending(conn) == 1
    assert [m.version for m in c1.received] == [1, 2, 3, 2, 3, 3]
