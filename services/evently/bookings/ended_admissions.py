"""Admission tokens of sessions the waiting room ended early: refused until they expire.

A token is checked offline and valid until its ``exp``, but the room may end its session
sooner (the visitor bought, or sat idle). With each admission refresh
(``BOOKINGS_ADMISSION_REFRESH_S``) every bookings replica pulls what ended since its
last pull from the room (``GET /internal/waiting-room/ended-sessions``, a keyset cursor,
so a poll reads only what is new) into an in-memory map of token id (``jti``, the queue
ticket) to the token's expiry, pruned as tokens expire. The hold path only looks it up:
no extra round trip. So an ended session's token is refused within one refresh interval
(plus the room's tick) of the end.

While the room cannot be reached the map keeps its last state (nothing is forgotten
before the token's own expiry), and the next successful pull catches up from the cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from evently.core.errors import ApiError
from evently.waiting_room.session_ends import START, EndedSessionsPage

log = logging.getLogger("evently.bookings.ended_admissions")

PATH = "/internal/waiting-room/ended-sessions"
PAGE_SIZE = 500
# A pull reads at most this many pages; the rest comes with the next refresh.
MAX_PAGES = 20

# GET ``path`` with the internal key: ``(status, json body)``; ``ApiError`` (503) when the
# room cannot be reached (``core.clients.InternalClient.get``).
FetchPage = Callable[[str], Awaitable[tuple[int, Any]]]


class EndedAdmissions:
    """The token ids (``jti``) of sessions the room ended, each until its token expires."""

    def __init__(self, fetch: FetchPage) -> None:
        self.fetch = fetch
        self.cursor = START
        self._expiry: dict[int, float] = {}  # jti -> the token's exp (epoch seconds)
        self._reachable = True

    def ended(self, ticket_id: int) -> bool:
        """Whether the session of the token with this ``jti`` has ended."""
        return ticket_id in self._expiry

    async def pull(self, now: float | None = None) -> None:
        """Add what ended since the last pull; drop tokens that have expired anyway. A
        room that cannot be reached changes nothing (logged once, until it answers)."""
        moment = time.time() if now is None else now
        self._expiry = {jti: exp for jti, exp in self._expiry.items() if exp > moment}
        for _ in range(MAX_PAGES):
            page = await self._next_page()
            if page is None:
                return
            for session in page.sessions:
                self._expiry[session.ticket_id] = session.expires_at.timestamp()
            self.cursor = page.next
            if not page.more:
                return

    async def _next_page(self) -> EndedSessionsPage | None:
        try:
            status, body = await self.fetch(f"{PATH}?after={self.cursor}&limit={PAGE_SIZE}")
            if status != 200:
                raise ValueError(f"answered {status}")
            page = EndedSessionsPage.model_validate(body)
        except (ApiError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            if self._reachable:
                log.warning("cannot read the room's ended sessions (keeping the last): %s", exc)
            self._reachable = False
            return None
        if not self._reachable:
            log.info("reading the room's ended sessions again")
        self._reachable = True
        return page
