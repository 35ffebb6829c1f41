"""Issuing tickets: signing a booking's codes and storing them, after its confirmation.

Issuing happens OUTSIDE the confirm transaction, so the flash-sale path pays nothing
for signing: once a confirmation batch commits, ``issue_in_background`` issues its
bookings' tickets. A crash between the two loses nothing, because reading a confirmed
booking's tickets (``tickets.booking_tickets``) issues whatever is missing.
``bookings.issue_tickets`` (sql/issue_tickets.sql) makes both idempotent and race-safe
against a cancel, which voids the tickets in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from evently.bookings import queries, ticket_codes
from evently.core.signing_keys import KeyRing

log = logging.getLogger("evently.bookings.tickets")


class TicketIssuer:
    """Signs a booking's ticket codes with the active ticket key and stores them."""

    def __init__(self, pool: asyncpg.Pool, keys: KeyRing) -> None:
        self.pool = pool
        self.keys = keys
        self._pending: set[asyncio.Task[None]] = set()

    def codes(self, booking: Mapping[str, Any]) -> list[str]:
        """The signed codes of seats 1..quantity of ``booking`` (a bookings row)."""
        return [
            ticket_codes.sign(
                ticket_codes.TicketClaims(booking["event_id"], booking["id"], seat),
                self.keys.active,
            )
            for seat in range(1, booking["quantity"] + 1)
        ]

    async def issue(self, booking: Mapping[str, Any]) -> list[asyncpg.Record]:
        """Issue the booking's missing tickets if it is confirmed; returns all its
        tickets (none, or void ones, if it is not)."""
        return await self.pool.fetch(queries.ISSUE_TICKETS, booking["id"], self.codes(booking))

    def issue_in_background(self, bookings: Iterable[Mapping[str, Any]]) -> None:
        """Issue the tickets of just-confirmed ``bookings`` without holding up the caller."""
        batch = list(bookings)
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._issue_all(batch))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _issue_all(self, bookings: list[Mapping[str, Any]]) -> None:
        """The whole confirmation batch in one pipelined round trip and one commit
        (``executemany`` is atomic), not a round trip and a commit per booking."""
        try:
            await self.pool.executemany(
                queries.ISSUE_TICKETS, [(b["id"], self.codes(b)) for b in bookings]
            )
        except Exception:
            # The confirmations stand; the first read of their tickets issues them.
            log.exception("issuing the tickets of bookings %s failed", [b["id"] for b in bookings])

    async def close(self) -> None:
        """Let issuances already started finish (they are short) before the pool closes."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
