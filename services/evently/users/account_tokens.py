"""Single-use account tokens, mailed through the outbox: password resets and email
verifications.

A token is 32 random bytes (URL-safe text) shown only in the mail; users keeps its
sha256 digest, its purpose, the address it was mailed to and when it expires. Issuing
one writes ``account.mail_requested`` to the users outbox in the same transaction, so
the mail goes out (through the notifications service) exactly when the token exists.
Redeeming marks it used in one conditional UPDATE: a token works once, before it
expires, for its own purpose only.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

import asyncpg

from evently.core.contracts import AccountMailRequested
from evently.core.outbox import enqueue
from evently.users import queries
from evently.users.relay import SOURCE

Purpose = Literal["password_reset", "email_verification"]


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_token(
    conn: asyncpg.Connection, user: asyncpg.Record, purpose: Purpose, ttl_s: int
) -> None:
    """Create a ``purpose`` token for ``user``'s current email and request its mail;
    call inside a transaction."""
    token = secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        queries.INSERT_ACCOUNT_TOKEN, token_digest(token), purpose, user["id"], user["email"], ttl_s
    )
    mail = AccountMailRequested(
        kind=purpose,
        request_id=row["id"],
        user_id=user["id"],
        email=user["email"],
        name=user["name"],
        token=token,
        expires_at=row["expires_at"],
    )
    payload = mail.model_dump(mode="json")
    await enqueue(conn, SOURCE, AccountMailRequested.TOPIC, user["id"], row["id"], payload)


async def redeem_token(
    conn: asyncpg.Connection, token: str, purpose: Purpose
) -> asyncpg.Record | None:
    """Use up a valid ``purpose`` token: its ``user_id`` and ``email``, or None when it is
    unknown, used, expired or for another purpose. Call inside the transaction that acts
    on it, so a failure leaves it unused."""
    return await conn.fetchrow(queries.REDEEM_ACCOUNT_TOKEN, token_digest(token), purpose)
