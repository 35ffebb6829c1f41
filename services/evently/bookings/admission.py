"""Admission tokens at the door: holds on an event with an active waiting room need one.

Which events require a token comes from bookings' own copy of ``event.changed``
(``bookings.waiting_rooms``, written by the inbox); each replica keeps the set in memory,
reloaded every ``BOOKINGS_ADMISSION_REFRESH_S``, so the hold path pays no database round
trip for it. A token (``Admission-Token`` header) is verified offline against the
waiting room's public keys (``/.well-known/admission-keys.json``, cached like the users
service's JWKS) and must name the buyer and the event (docs/waiting-room.md).

**When the room cannot be reached** (its key set cannot be fetched: the last fetch
attempt, at most ``JwksCache.min_refetch_s`` old, failed), the event's
``when_unavailable`` rule applies to a hold that has no token the cached keys can
verify: ``fail_closed`` (the default) refuses it as usual, ``fail_open`` lets it through
and counts it (``evently_bookings_admission_fail_open_total``). A valid token is
accepted either way; a token that fails verification is refused either way.

**A session the room ended early** (a purchase, idleness) no longer admits: its token
is refused (403 ``admission_ended``) once the next refresh has pulled the end from the
room (``ended_admissions.py``), until the token expires anyway.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from evently.bookings import queries
from evently.bookings.ended_admissions import EndedAdmissions
from evently.bookings.metrics import ADMISSION_FAIL_OPEN
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


class AdmissionEnded(Forbidden):
    code, title = "admission_ended", "Admission ended"

    def __init__(self, event_id: int) -> None:
        super().__init__(
            f"Your shopping session for event {event_id} has ended (you bought, or it sat "
            f"idle), so its {HEADER} no longer admits you. Poll "
            f"/api/v1/events/{event_id}/waiting-room/me for your status.",
            event_id=event_id,
        )


async def apply_event_changed(conn: asyncpg.Connection, event: EventChanged, version: int) -> None:
    """Record whether the event's holds need an admission token (inside the inbox's
    transaction)."""
    room = event.waiting_room
    required = room is not None and room.enabled
    fail_open = room is not None and room.when_unavailable == "fail_open"
    await conn.execute(queries.APPLY_WAITING_ROOM, event.id, version, required, fail_open)


class AdmissionGate:
    """Checks holds against the events that require an admission token."""

    def __init__(
        self, pool: asyncpg.Pool, keys: JwksCache, ended: EndedAdmissions | None = None
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.ended = ended
        self._required: frozenset[int] = frozenset()
        self._fail_open: frozenset[int] = frozenset()

    async def reload(self) -> None:
        """Read which events require a token, and which of them fail open, then pull the
        sessions the room ended since the last reload (at start-up, then periodically)."""
        rows = await self.pool.fetch(queries.EVENTS_REQUIRING_ADMISSION)
        self._required = frozenset(r["event_id"] for r in rows)
        self._fail_open = frozenset(r["event_id"] for r in rows if r["fail_open"])
        if self.ended is not None and self._required:
            await self.ended.pull()

    def required(self, event_id: int) -> bool:
        return event_id in self._required

    async def check(
        self, token: str | None, *, user_id: int, event_id: int, now: datetime | None = None
    ) -> None:
        """Pass, or raise ``AdmissionRequired``/``AdmissionTokenInvalid`` (403)."""
        if event_id not in self._required:
            return
        if not token:
            if await self._failing_open(event_id):
                return
            raise AdmissionRequired(event_id)
        try:
            kid = admission_kid(token)
            key = await self.keys.key(kid)
            if key is None:
                if await self._failing_open(event_id):
                    return
                raise InvalidAdmissionToken("signed with an unknown key")
            admission = verify_admission({kid: key.key}, token, now)
        except InvalidAdmissionToken as exc:
            raise AdmissionTokenInvalid(event_id, str(exc)) from None
        if admission.event_id != event_id:
            raise AdmissionTokenInvalid(event_id, "it admits to another event")
        if admission.user_id != user_id:
            raise AdmissionTokenInvalid(event_id, "it admits another user")
        if self.ended is not None and self.ended.ended(admission.ticket_id):
            raise AdmissionEnded(event_id)

    async def _failing_open(self, event_id: int) -> bool:
        """Whether this hold passes under ``fail_open`` (the room cannot be reached)."""
        if event_id not in self._fail_open or await self.keys.reachable():
            return False
        ADMISSION_FAIL_OPEN.inc()  # counted, not logged: a flash sale would flood the log
        return True
