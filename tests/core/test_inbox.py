"""The consuming side (core/inbox.py): idempotent, in-order application per key."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from evently.core.db import create_pool
from evently.core.inbox import InboxBatch, apply_batch, apply_within
from evently.core.inbox_loop import INBOX_LOOP, inbox_loop_context
from evently.core.settings import CommonSettings
from tests.conftest import INTERNAL_API_KEY
from tests.support.outbox_peers import create_outbox_schema, inbox_app

SCHEMA = "inboxtest"
KEY = {"X-Internal-Key": INTERNAL_API_KEY}


@pytest.fixture
async def pool(database_url):
    await create_outbox_schema(database_url, SCHEMA)
    settings = CommonSettings(database_url=database_url, internal_api_key=INTERNAL_API_KEY)
    pool = await create_pool(settings, "inbox-test", min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {SCHEMA}.applied (source text, message_id bigint, key text, "
            "version bigint)"
        )
    yield pool
    await pool.close()


async def record(conn, message) -> None:
    """A handler that records what it applied, in the same transaction as the inbox row."""
    if message.payload.get("explode"):
        await conn.execute(
            f"INSERT INTO {SCHEMA}.applied VALUES ($1, $2, $3, $4)",
            message.source,
            message.id,
            message.key,
            -1,
        )
        raise ValueError("cannot apply this one")
    await conn.execute(
        f"INSERT INTO {SCHEMA}.applied VALUES ($1, $2, $3, $4)",
        message.source,
        message.id,
        message.key,
        message.version,
    )


HANDLERS = {"thing.changed": record}


def message(message_id: int, key: str, version: int, topic="thing.changed", source="up", **payload):
    return {
        "id": message_id,
        "source": source,
        "topic": topic,
        "key": key,
        "version": version,
        "payload": payload,
        "created_at": datetime.now(UTC).isoformat(),
    }


def batch(*messages) -> InboxBatch:
    return InboxBatch.model_validate({"source": "up", "messages": list(messages)})


async def applied(pool) -> list[tuple]:
    rows = await pool.fetch(f"SELECT message_id, key, version FROM {SCHEMA}.applied ORDER BY 1")
    return [tuple(r) for r in rows]


async def test_messages_are_applied_in_order_and_acknowledged(pool):
    acked = await apply_batch(
        pool, SCHEMA, HANDLERS, batch(message(1, "a", 1), message(2, "b", 1), message(3, "a", 2))
    )
    assert acked == [1, 2, 3]
    assert await applied(pool) == [(1, "a", 1), (2, "b", 1), (3, "a", 2)]


async def test_a_redelivered_message_is_acknowledged_but_not_applied_again(pool):
    await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1)))
    again = await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1), message(2, "a", 2)))
    assert again == [1, 2]
    assert await applied(pool) == [(1, "a", 1), (2, "a", 2)]


async def test_the_same_id_from_another_source_is_a_different_message(pool):
    await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1, source="up")))
    await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1, source="other")))
    assert len(await applied(pool)) == 2


async def test_a_failing_message_rolls_back_and_holds_back_only_its_key(pool):
    acked = await apply_batch(
        pool,
        SCHEMA,
        HANDLERS,
        batch(
            message(1, "a", 1, explode=True),
            message(2, "b", 1),
            message(3, "a", 2),
        ),
    )
    assert acked == [2]
    assert await applied(pool) == [(2, "b", 1)]  # the failed handler's write rolled back
    inbox = await pool.fetch(f"SELECT message_id FROM {SCHEMA}.inbox ORDER BY 1")
    assert [r["message_id"] for r in inbox] == [2]
    # Retried once the cause is fixed, both "a" messages apply, in order.
    acked = await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1), message(3, "a", 2)))
    assert acked == [1, 3]
    assert await applied(pool) == [(1, "a", 1), (2, "b", 1), (3, "a", 2)]


async def test_an_unknown_topic_is_acknowledged_and_ignored(pool):
    acked = await apply_batch(pool, SCHEMA, HANDLERS, batch(message(9, "a", 1, topic="other")))
    assert acked == [9]
    assert await applied(pool) == []


async def test_the_http_route_needs_the_internal_key(pool, aiohttp_client):
    client = await aiohttp_client(inbox_app(pool, SCHEMA, HANDLERS, INTERNAL_API_KEY))
    body = {"source": "up", "messages": [message(1, "a", 1)]}
    assert (await client.post("/internal/inbox", json=body)).status == 401
    wrong = await client.post("/internal/inbox", json=body, headers={"X-Internal-Key": "x" * 20})
    assert wrong.status == 401
    assert await applied(pool) == []
    ok = await client.post("/internal/inbox", json=body, headers=KEY)
    assert ok.status == 200
    assert await ok.json() == {"acknowledged": [1], "deferred": []}


MALFORMED_BATCHES = [
    ({"source": "up"}, "body.messages"),
    ({"source": "up", "messages": [{"id": 1}]}, "body.messages.0.topic"),
    ({"source": "up", "messages": [], "extra": 1}, "body.extra"),
    ({"source": "up", "messages": [{**message(1, "a", 1), "more": 1}]}, "body.messages.0.more"),
]


async def test_the_http_route_refuses_malformed_batches(pool, aiohttp_client, subtests):
    client = await aiohttp_client(inbox_app(pool, SCHEMA, HANDLERS, INTERNAL_API_KEY))
    for body, field in MALFORMED_BATCHES:
        with subtests.test(field=field):
            response = await client.post("/internal/inbox", json=body, headers=KEY)
            assert response.status == 400
            assert field in [e["field"] for e in (await response.json())["errors"]]
    assert await applied(pool) == []


async def slow_record(conn, message) -> None:
    """Records like ``record``, then takes longer than the test's budget."""
    await record(conn, message)
    await asyncio.sleep(0.2)


async def test_an_inbox_out_of_budget_answers_with_its_progress_and_defers_the_rest(pool):
    ack = await apply_within(
        pool,
        SCHEMA,
        {"thing.changed": slow_record},
        batch(message(1, "a", 1), message(2, "b", 1), message(3, "a", 2)),
        budget_s=0.1,  # spent by the first message: the others are not started
    )
    assert (ack.acknowledged, ack.deferred) == ([1], [2, 3])
    assert await applied(pool) == [(1, "a", 1)]


async def test_a_key_that_failed_is_not_deferred(pool):
    ack = await apply_within(
        pool,
        SCHEMA,
        HANDLERS,
        batch(message(1, "a", 1, explode=True), message(2, "a", 2), message(3, "b", 1)),
        budget_s=0.0,  # out of budget from the start: nothing is attempted
    )
    assert (ack.acknowledged, ack.deferred) == ([], [1, 2, 3])
    ack = await apply_within(
        pool, SCHEMA, HANDLERS, batch(message(1, "a", 1, explode=True), message(3, "b", 1)), None
    )
    assert (ack.acknowledged, ack.deferred) == ([3], [])


async def test_messages_grouped_in_one_transaction_apply_in_order_and_once(pool):
    await apply_batch(pool, SCHEMA, HANDLERS, batch(message(1, "a", 1)))
    ack = await apply_within(
        pool,
        SCHEMA,
        HANDLERS,
        batch(
            message(1, "a", 1),  # redelivered: acknowledged, not applied again
            message(2, "b", 1),
            message(3, "a", 2),
            message(3, "a", 2),  # twice in one batch: applied once
            message(4, "b", 2, topic="other"),
        ),
        None,
        per_transaction=10,
    )
    assert ack.acknowledged == [1, 2, 3, 3, 4]
    assert await applied(pool) == [(1, "a", 1), (2, "b", 1), (3, "a", 2)]
    inbox = await pool.fetch(f"SELECT message_id FROM {SCHEMA}.inbox ORDER BY 1")
    assert [r["message_id"] for r in inbox] == [1, 2, 3, 4]


async def record_transaction(conn, message) -> None:
    """Records the message's transaction id as its version."""
    await conn.execute(
        f"INSERT INTO {SCHEMA}.applied VALUES ($1, $2, $3, txid_current())",
        message.source,
        message.id,
        message.key,
    )


async def test_a_group_is_one_transaction(pool):
    messages = [message(i, f"k{i}", 1) for i in range(1, 21)]
    handlers = {"thing.changed": record_transaction}
    ack = await apply_within(pool, SCHEMA, handlers, batch(*messages), None, per_transaction=8)
    assert ack.acknowledged == list(range(1, 21))
    transactions = [version for _, _, version in await applied(pool)]
    assert len(set(transactions)) == 3  # 8 + 8 + 4, not one per message


async def test_a_failing_message_in_a_group_holds_back_only_its_key(pool):
    ack = await apply_within(
        pool,
        SCHEMA,
        HANDLERS,
        batch(
            message(1, "b", 1),
            message(2, "a", 1, explode=True),
            message(3, "b", 2),
            message(4, "a", 2),
            message(5, "c", 1),
        ),
        None,
        per_transaction=3,
    )
    assert ack.acknowledged == [1, 3, 5]
    assert await applied(pool) == [(1, "b", 1), (3, "b", 2), (5, "c", 1)]


async def test_runs_of_a_topic_with_a_group_handler_are_applied_in_one_call(pool):
    calls: list[list[int]] = []

    async def record_run(conn, messages) -> None:
        calls.append([m.id for m in messages])
        for m in messages:
            await record(conn, m)

    ack = await apply_within(
        pool,
        SCHEMA,
        {**HANDLERS, "other.changed": record},
        batch(
            message(1, "a", 1),
            message(2, "b", 1),
            message(3, "c", 1, topic="other.changed"),
            message(4, "a", 2),
            message(4, "a", 2),  # repeated: applied once
        ),
        None,
        per_transaction=10,
        group_handlers={"thing.changed": record_run},
    )
    assert ack.acknowledged == [1, 2, 3, 4, 4]
    assert calls == [[1, 2], [4]]  # the runs around the other topic, in order
    assert await applied(pool) == [(1, "a", 1), (2, "b", 1), (3, "c", 1), (4, "a", 2)]


async def test_a_group_applies_topic_by_topic_in_the_given_order_keeping_each_key_in_order(pool):
    order: list[int] = []

    async def note(conn, message) -> None:
        order.append(message.id)
        await record(conn, message)

    ack = await apply_within(
        pool,
        SCHEMA,
        {"thing.changed": note, "room.changed": note, "other": note},
        batch(
            message(1, "r", 1, topic="room.changed"),
            message(2, "a", 1),
            message(3, "x", 1, topic="other"),
            message(4, "r", 2, topic="room.changed"),
            message(5, "a", 2),
        ),
        None,
        per_transaction=10,
        topic_order=("thing.changed", "room.changed"),
    )
    assert ack.acknowledged == [1, 2, 3, 4, 5]
    assert order == [2, 5, 1, 4, 3]  # listed topics first, in order; the rest last


async def test_the_route_applies_on_the_apps_inbox_loop(pool, database_url, aiohttp_client):
    threads: list[int] = []

    async def note_thread(conn, message) -> None:
        threads.append(threading.get_ident())
        await record(conn, message)

    app = inbox_app(pool, SCHEMA, {"thing.changed": note_thread}, INTERNAL_API_KEY)
    settings = CommonSettings(
        database_url=database_url, internal_api_key=INTERNAL_API_KEY, db_inbox_pool_max=1
    )
    app.cleanup_ctx.append(inbox_loop_context(settings, "inbox-test"))
    client = await aiohttp_client(app)
    assert INBOX_LOOP in app
    body = {"source": "up", "messages": [message(1, "a", 1), message(2, "a", 2)]}
    answer = await client.post("/internal/inbox", json=body, headers=KEY)
    assert await answer.json() == {"acknowledged": [1, 2], "deferred": []}
    assert await applied(pool) == [(1, "a", 1), (2, "a", 2)]
    assert set(threads) == {app[INBOX_LOOP].thread_ident}
    assert threading.get_ident() not in threads  # not on the app's (the test's) loop
