"""Admission tokens at the door: holds on an event with an active waiting room need one.

Which events require a token comes from bookings' own copy of ``event.changed``
(``bookings.waiting_rooms``, written by the inbox); each replica keeps the set in memory,
reloaded every ``BOOKINGS_ADMISSION_REFRESH_S``, so the hold path pays no database round
trip for it. A token (``Admission-Token`` header) is verified offline against the
waiting room's public keys (``/.well-known/admission-keys.json``, cached like the users
service's JWKS) and must name the buyer and the event (docs/waiting-room.md).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from evently.bookings import queries
from evently.core.admission_tokens import (
    HEADER,
    InvalidAdmissionToken,
    admission_kid,
    verify_admission,
)
from evently.core.auth import JwksCache
from evently.core.contracts import EventChanged
from evently.core.errors import Forbidden


class AdmissionRequired(Forbidden):
    code, title = "admission_required", "Admission required"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Event {event_id} sells through its waiting room: join it at "
            f"/api/v1/events/{event_id}/waiting-room/join and send the admission token you "
            f"get once admitted as the {HEADER} header.",
            event_id=event_id,
        )


class AdmissionTokenInvalid(Forbidden):
    code, title = "admission_token_invalid", "Admission token not valid"

    def __init__(self, event_id: int, why: str) -> None:
        super().__init__(
            f"The {HEADER} header does not admit you to event {event_id}: {why}. Poll "
            f"/api/v1/events/{event_id}/waiting-room/me for your current token.",
            event_id=event_id,
        )


async def apply_event_changed(conn: asyncpg.Connection, event: EventChanged, version: int) -> None:
    """Record whether the event's holds need an admission token (inside the inbox's
    transaction)."""
    required = event.waiting_room is not None and event.waiting_room.enabled
    await conn.execute(queries.APPLY_WAITING_ROOM, event.id, version, required)


class AdmissionGate:
    """Checks holds against the events that require an admission token."""

    def __init__(self, pool: asyncpg.Pool, keys: JwksCache) -> None:
        self.pool = pool
        self.keys = keys
        self._required: frozenset[int] = frozenset()

    async def reload(self) -> None:
        """Read which events require a token (at start-up, then periodically)."""
        rows = await self.pool.fetch(queries.EVENTS_REQUIRING_ADMISSION)
        self._required = frozenset(r["event_id"] for r in rows)

    def required(self, event_id: int) -> bool:
        return event_id in self._required

    async def check(
        self, token: str | None, *, user_id: int, event_id: int, now: datetime | None = None
    ) -> None:
        """Pass, or raise ``AdmissionRequired``/``AdmissionTokenInvalid`` (403)."""
        if event_id not in self._required:
            return
        if not token:
            raise AdmissionRequired(event_id)
        try:
            kid = admission_kid(token)
            key = await self.keys.key(kid)
            if key is None:
                raise InvalidAdmissionToken("signed with an unknown key")
            admission = verify_admission({kid: key.key}, token, now)
        except InvalidAdmissionToken as exc:
            raise AdmissionTokenInvalid(event_id, str(exc)) from None
        if admission.event_id != event_id:
            raise AdmissionTokenInvalid(event_id, "it admits to another event")
        if admission.user_id != user_id:
            raise AdmissionTokenInvalid(event_id, "it admits another user")
