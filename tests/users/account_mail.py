"""The account mail the users service requested: ``account.mail_requested`` in its outbox
(what the notifications service turns into a mail; tests read the token from here)."""

from __future__ import annotations

from typing import Any

from evently.core.db import POOL


async def mailed(users, kind: str) -> list[dict[str, Any]]:
    """Every ``kind`` mail requested so far (``password_reset``, ``email_verification``)."""
    rows = await users.app[POOL].fetch(
        "SELECT payload FROM users.outbox WHERE topic = 'account.mail_requested' "
        "AND payload->>'kind' = $1 ORDER BY id",
        kind,
    )
    return [row["payload"] for row in rows]


async def last_token(users, kind: str) -> str:
    requested = await mailed(users, kind)
    assert requested, f"no {kind} mail was requested"
    return requested[-1]["token"]
