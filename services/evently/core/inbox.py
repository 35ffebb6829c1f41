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
(a room learning that its event sold out, say).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
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
) -> InboxAck:
    """Apply messages in order, starting none once ``budget_s`` seconds have passed: those
    left are ``deferred`` (the relay sends them again at once), so a slow consumer answers
    before the relay's timeout with the progress it made, rather than time out with none."""
    acknowledged: list[int] = []
    failed_keys: set[str] = set()
    deadline = None if budget_s is None else time.monotonic() + budget_s
    for index, message in enumerate(batch.messages):
        if deadline is not None and time.monotonic() >= deadline:
            rest = batch.messages[index:]
            return InboxAck(
                acknowledged=acknowledged,
                deferred=[m.id for m in rest if m.key not in failed_keys],
            )
        if message.key in failed_keys:
            continue
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
            failed_keys.add(message.key)
            continue
        except Exception:
            log.exception(
                "failed to apply %s message %s (%s)", message.source, message.id, message.topic
            )
            failed_keys.add(message.key)
            continue
        acknowledged.append(message.id)
    return InboxAck(acknowledged=acknowledged)


def add_inbox_route(api: Api, schema: str, handlers: Mapping[str, InboxHandler]) -> None:
    """Declare ``POST /internal/inbox`` on ``api``, applying messages with ``handlers``."""

    @api.post(
        "/internal/inbox",
        summary="Receive outbox messages from another service (at-least-once, idempotent)",
        body=InboxBatch,
        response=InboxAck,
        auth=require_internal,
    )
    async def receive_outbox_messages(request: web.Request, body: InboxBatch) -> web.Response:
        budget_s = getattr(request.app[SETTINGS], "inbox_batch_budget_s", None)
        pool = inbox_pool(request.app)
        return json_response(await apply_within(pool, schema, handlers, body, budget_s))
