"""Verified email at the door: holds on an event that requires it need a verified email.

An organiser turns it on per event (``require_verified_email``, the anti-hoarding
defence: throwaway accounts cannot hold seats). Which events require it comes from
bookings' own copy of ``event.changed`` (``bookings.verified_email_events``, written by
the inbox); each replica keeps the set in memory, reloaded every
``BOOKINGS_VERIFIED_EMAIL_REFRESH_S``, so the hold path pays no database round trip for
it. Whether the buyer's email is verified is the access token's ``email_verified``
claim: as of minting, so a buyer who has just verified refreshes their token first
(docs/users.md).
"""

from __future__ import annotations

import asyncpg

from evently.bookings import queries
from evently.core.auth import Principal
from evently.core.contracts import EventChanged
from evently.core.errors import Forbidden


class EmailVerificationRequired(Forbidden):
    code, title = "email_verification_required", "Email verification required"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Event {event_id} sells only to buyers with a verified email. Open the link "
            "mailed to you (ask for a new one with POST /api/v1/users/email-verification), "
            "then refresh your access token (POST /api/v1/auth/refresh) and hold again.",
            event_id=event_id,
        )


async def apply_event_changed(conn: asyncpg.Connection, event: EventChanged, version: int) -> None:
    """Record whether the event's holds need a verified email (inside the inbox's
    transaction)."""
    await conn.execute(
        queries.APPLY_VERIFIED_EMAIL, event.id, version, event.require_verified_email
    )


class VerifiedEmailGate:
    """Checks holds against the events that require a verified email."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._required: frozenset[int] = frozenset()

    async def reload(self) -> None:
        """Read which events require a verified email (at start-up, then periodically)."""
        rows = await self.pool.fetch(queries.EVENTS_REQUIRING_VERIFIED_EMAIL)
        self._required = frozenset(r["event_id"] for r in rows)

    def required(self, event_id: int) -> bool:
        return event_id in self._required

    def check(self, buyer: Principal, event_id: int) -> None:
        """Pass, or raise ``EmailVerificationRequired`` (403); no I/O."""
        if event_id in self._required and not buyer.email_verified:
            raise EmailVerificationRequired(event_id)
