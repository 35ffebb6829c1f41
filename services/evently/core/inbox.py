"""The consuming side of the outbox: ``POST /internal/inbox`` with idempotent handlers.

Each message is applied in its own transaction together with a row in
``<schema>.inbox (source, message_id)``; a re-delivered message finds that row and is
acknowledged without being applied twice. Handlers read payloads with
``core.contracts.parse`` and must ignore stale versions (``version`` is the aggregate's
version), since messages of different keys interleave. Once a message of some key
fails, later messages of that key in the batch are left unacknowledged, so the relay
retries them in order. A payload written for a newer contract than this code knows is
refused the same way (logged as an error and counted in
``evently_inbox_refused_total``): it stays in the producer's outbox until this
consumer is upgraded.

Messages are applied on the service's inbox pool (``core.db.inbox_pool``,
``DB_INBOX_POOL_MAX`` connections of its own), not on the pool its requests use: a
service saturated by visitors must still hear, promptly, what other services tell it
(a room learning that its event sold out, say). A service may go further and apply them
on an event loop of their own (``core/inbox_loop.py``, when the app has ``INBOX_LOOP``).

A consumer that receives many small messages may apply up to ``per_transaction`` of them
in one transaction (``add_inbox_route(..., per_transaction=n)``): one connection, one
commit and one inbox insert for all of them, so a batch costs about one round trip per
handler statement instead of five per message. If anything in such a group fails, the
group is rolled back and applied again one message at a time, so a failing message
still holds back only its key. Its locks are held until the group commits: use it where
the handlers take no lock that buyers wait for. Since a group's locks add up, a consumer
whose other transactions lock its tables in a fixed order gives the group the same order
(``topic_order``): the group applies each listed topic's messages, in their order, before
the next topic's (unlisted topics last). Each topic is its own aggregate, so every key
still sees its messages in order; only messages of different topics trade places
(the waiting room: visitors' tickets before the room's row, as its ticker locks them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import pydantic
from aiohttp import web
from prometheus_client import Counter

from evently.core.api import Api, json_response
from evently.core.auth import require_internal
from evently.core.contracts import UnsupportedVersion
from evently.core.db import inbox_pool
from evently.core.inbox_loop import INBOX_LOOP
from evently.core.settings import SETTINGS

log = logging.getLogger("evently.inbox")

INBOX_REFUSED = Counter(
    "evently_inbox_refused_total",
    "Messages left unacknowledged because their contract version is newer than this "
    "consumer knows, by source and topic.",
    ["source", "topic"],
)


class InboxMessage(pydantic.BaseModel):
    """One outbox message as delivered to a consumer."""

    model_config = pydantic.ConfigDict(extra="forbid")

    id: int
    source: str
    topic: str
    key: str
    version: int
    payload: dict[str, Any]
    created_at: datetime


class InboxBatch(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    source: str = pydantic.Field(max_length=64)
    messages: list[InboxMessage] = pydantic.Field(max_length=1000)


class InboxAck(pydantic.BaseModel):
    acknowledged: list[int]
    deferred: list[int] = pydantic.Field(
        default_factory=list,
        description="Ids not attempted within the consumer's time budget: send them again "
        "at once (not a failure)",
    )


InboxHandler = Callable[[asyncpg.Connection, InboxMessage], Awaitable[None]]
# Applies consecutive messages of one topic in order, as the topic's handler would one by
# one (in fewer round trips); used only within a group (``per_transaction``).
InboxGroupHandler = Callable[[asyncpg.Connection, list[InboxMessage]], Awaitable[None]]


async def apply_batch(
    pool: asyncpg.Pool, schema: str, handlers: Mapping[str, InboxHandler], batch: InboxBatch
) -> list[int]:
    """Apply messages in order; returns the ids that are now durably applied."""
    return (await apply_within(pool, schema, handlers, batch, None)).acknowledged


async def apply_within(
    pool: asyncpg.Pool,
    schema: str,
    handlers: Mapping[str, InboxHandler],
    batch: InboxBatch,
    budget_s: float | None,
    per_transaction: int = 1,
    group_handlers: Mapping[str, InboxGroupHandler] | None = None,
    topic_order: Sequence[str] = (),
) -> InboxAck:
    """Apply messages in order, starting none once ``budget_s`` seconds have passed: those
    left are ``deferred`` (the relay sends them again at once), so a slow consumer answers
    before the relay's timeout with the progress it made, rather than time out with none.
    Up to ``per_transaction`` messages share a transaction, applied topic by topic in
    ``topic_order`` (see the module's docstring)."""
    acknowledged: list[int] = []
    failed_keys: set[str] = set()
    deadline = None if budget_s is None else time.monotonic() + budget_s
    messages = batch.messages
    index = 0
    while index < len(messages):
        if deadline is not None and time.monotonic() >= deadline:
            return InboxAck(
                acknowledged=acknowledged,
                deferred=[m.id for m in messages[index:] if m.key not in failed_keys],
            )
        group = [m for m in messages[index : index + per_transaction] if m.key not in failed_keys]
        index += per_transaction
        if len(group) > 1 and await _apply_group(
            pool, schema, handlers, group_handlers or {}, group, topic_order
        ):
            acknowledged.extend(m.id for m in group)
            continue
        for message in group:  # one at a time: alone, or the group failed somewhere
            if message.key in failed_keys:
                continue
            if await _apply_one(pool, schema, handlers, message):
                acknowledged.append(message.id)
            else:
                failed_keys.add(message.key)
    return InboxAck(acknowledged=acknowledged)


async def _apply_one(
    pool: asyncpg.Pool, schema: str, handlers: Mapping[str, InboxHandler], message: InboxMessage
) -> bool:
    """Apply one message in a transaction of its own; False (logged) if it failed."""
    handler = handlers.get(message.topic)
    try:
        async with pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                f"INSERT INTO {schema}.inbox (source, message_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                message.source,
                message.id,
            )
            if fresh and handler is not None:
                await handler(conn, message)
            elif fresh:
                log.info("ignoring %s message with topic %s", message.source, message.topic)
    except UnsupportedVersion as exc:
        INBOX_REFUSED.labels(message.source, message.topic).inc()
        log.error("refusing %s message %s: %s", message.source, message.id, exc)
        return False
    except Exception:
        log.exception(
            "failed to apply %s message %s (%s)", message.source, message.id, message.topic
        )
        return False
    return True


async def _apply_group(
    pool: asyncpg.Pool,
    schema: str,
    handlers: Mapping[str, InboxHandler],
    group_handlers: Mapping[str, InboxGroupHandler],
    group: list[InboxMessage],
    topic_order: Sequence[str] = (),
) -> bool:
    """Apply ``group`` in one transaction (one inbox insert for all; topic by topic in
    ``topic_order``; each run of consecutive messages whose topic has a group handler in
    one call); False, with nothing applied, if anything failed: the caller then applies
    them one at a time."""
    rank = {topic: i for i, topic in enumerate(topic_order)}
    try:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"INSERT INTO {schema}.inbox (source, message_id) "
                "SELECT * FROM unnest($1::text[], $2::bigint[]) "
                "ON CONFLICT DO NOTHING RETURNING source, message_id",
                [m.source for m in group],
                [m.id for m in group],
            )
            fresh = {(r["source"], r["message_id"]) for r in rows}
            run: list[InboxMessage] = []
            for message in sorted(group, key=lambda m: rank.get(m.topic, len(rank))):
                if (message.source, message.id) not in fresh:
                    continue  # applied before (or earlier in this group)
                fresh.discard((message.source, message.id))
                if run and run[0].topic != message.topic:
                    await group_handlers[run[0].topic](conn, run)
                    run = []
                if message.topic in group_handlers:
                    run.append(message)
                elif (handler := handlers.get(message.topic)) is not None:
                    await handler(conn, message)
            if run:
                await group_handlers[run[0].topic](conn, run)
    except Exception as exc:
        log.info(
            "a group of %d messages failed (%s: %s); applying them one at a time",
            len(group),
            type(exc).__name__,
            exc,
        )
        return False
    return True


def add_inbox_route(
    api: Api,
    schema: str,
    handlers: Mapping[str, InboxHandler],
    per_transaction: int = 1,
    group_handlers: Mapping[str, InboxGroupHandler] | None = None,
    topic_order: Sequence[str] = (),
) -> None:
    """Declare ``POST /internal/inbox`` on ``api``, applying messages with ``handlers``,
    up to ``per_transaction`` in one transaction (runs of a topic in ``group_handlers``
    in one call; topic by topic in ``topic_order``)."""

    @api.post(
        "/internal/inbox",
        summary="Receive outbox messages from another service (at-least-once, idempotent)",
        body=InboxBatch,
        response=InboxAck,
        auth=require_internal,
    )
    async def receive_outbox_messages(request: web.Request, body: InboxBatch) -> web.Response:
        budget_s = getattr(request.app[SETTINGS], "inbox_batch_budget_s", None)

        def apply(pool: asyncpg.Pool) -> Awaitable[InboxAck]:
            return apply_within(
                pool, schema, handlers, body, budget_s, per_transaction, group_handlers, topic_order
            )

        own_loop = request.app.get(INBOX_LOOP)
        ack = await (own_loop.run(apply) if own_loop else apply(inbox_pool(request.app)))
        return json_response(ack)
