"""Sessions the room ended early, for bookings: their admission tokens stop admitting.

An admission token is checked offline and valid until its ``exp``; the room may end the
session sooner (a purchase, idleness: ``ticker.py``). The ticker records the end
(``tickets.ended_at`` and the ending transaction's id, ``ended_xid``), and bookings
pulls the ended sessions whose token has not expired yet with every admission refresh
(``GET /internal/waiting-room/ended-sessions``, ``bookings/ended_admissions.py``).

The pull reads with a keyset cursor over ``(ended_xid, id)``, and only sessions ended by
transactions older than every transaction still running (the snapshot's ``xmin``): a
tick that ended a session but commits after a later one cannot be skipped by a cursor
already past that later one. So each poll reads only what is new, and never loses an end.
"""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg
import pydantic
from pydantic import Field

from evently.waiting_room import queries

CURSOR_PATTERN = r"^[0-9]{1,20}\.[0-9]{1,19}$"
START = "0.0"


class EndedSessionsQuery(pydantic.BaseModel):
    """``GET /internal/waiting-room/ended-sessions`` parameters."""

    model_config = pydantic.ConfigDict(extra="forbid")

    after: str = Field(
        START,
        pattern=CURSOR_PATTERN,
        description="The `next` of the previous page (default: from the start)",
    )
    limit: int = Field(500, ge=1, le=1000, description="Sessions read at most")


class EndedSession(pydantic.BaseModel):
    """A session the room ended before its admission token expired."""

    ticket_id: int = Field(description="The token's `jti`")
    event_id: int
    user_id: int
    ended_at: datetime
    expires_at: datetime = Field(description="When the token expires anyway (its `exp`)")


class EndedSessionsPage(pydantic.BaseModel):
    """One page of ended sessions, and where the next one starts."""

    sessions: list[EndedSession]
    next: str = Field(pattern=CURSOR_PATTERN, description="The cursor to send as `after` next time")
    more: bool = Field(description="The page was full: ask again at once for the rest")


def parse_cursor(cursor: str) -> tuple[str, int]:
    """``"<xid>.<ticket id>"`` as the query's parameters (checked by the pattern)."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise ValueError(f"not a cursor: {cursor!r}")
    xid, ticket_id = cursor.split(".")
    return xid, int(ticket_id)


async def ended_sessions(
    pool: asyncpg.Pool, after: str = START, limit: int = 500
) -> EndedSessionsPage:
    """The sessions ended since cursor ``after`` whose token is still valid, at most
    ``limit`` read."""
    xid, ticket_id = parse_cursor(after)
    rows = await pool.fetch(queries.ENDED_SESSIONS, xid, ticket_id, limit)
    sessions = [
        EndedSession(
            ticket_id=r["id"],
            event_id=r["event_id"],
            user_id=r["user_id"],
            ended_at=r["ended_at"],
            expires_at=r["expires_at"],
        )
        for r in rows
        if r["token_valid"]
    ]
    cursor = f"{rows[-1]['xid']}.{rows[-1]['id']}" if rows else after
    return EndedSessionsPage(sessions=sessions, next=cursor, more=len(rows) == limit)
