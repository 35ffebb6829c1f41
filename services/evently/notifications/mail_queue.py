"""The mail queue: mails are queued in the transaction that applies their cause.

Queuing is all an inbox handler does about mail, so applying a message never waits for a
mail server. ``dedup_key`` names the cause (``booking_confirmed:42``): a cause queues at
most one mail, even if its message came twice. The Message-ID is chosen here, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import asyncpg

from evently.notifications import queries


def message_id(kind: str) -> str:
    """A fresh RFC 5322 Message-ID."""
    return f"<{kind}.{uuid.uuid4().hex}@evently>"


async def queue_mail(
    conn: asyncpg.Connection,
    kind: str,
    dedup_key: str,
    context: Mapping[str, str],
    *,
    user_id: int | None = None,
    to_address: str | None = None,
) -> bool:
    """Queue one ``kind`` mail to ``user_id`` (addressed when sent) or ``to_address``;
    False if ``dedup_key`` was queued before."""
    queued = await conn.fetchval(
        queries.QUEUE_MAIL,
        dedup_key,
        kind,
        user_id,
        to_address,
        dict(context),
        message_id(kind),
    )
    return queued is not None


def when(moment: datetime) -> str:
    """A time as mails show it: ``Sat 05 Dec 2026, 19:00 UTC``."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")
