"""What a visitor still in line sees, and the status poll's ETag built from exactly that.

A visitor in line (``waiting``, ``prequeue``, ``sold_out``) sees their position, a
rounded ``ahead`` and the wait it implies. All of it follows from their position and
five figures of the room (``RoomSnapshot``), which every replica keeps in memory
(``room_versions.py``). Their ETag names the position and what they see, so a poll is
answered 304 from memory while *their* view is unchanged, however many admitting ticks
move the room meanwhile. ``ahead`` is rounded up beyond 99 (steps of 50, 500, 5,000, ...),
so a visitor far back sees a change every few hundred admissions, not at every tick.

An in-line tag also names the visitor's ticket (``TicketRef``: its id and join time), the
only figures of their status that the room's snapshot does not give: so a status stream
opened with it tells its visitor every later in-line status, the sold-out notice above
all, from memory, without reading their ticket (before, a sell-out read every such
stream's ticket in one query while thousands waited: docs/benchmarks.md). A client who
forges a tag only misinforms itself: what it is shown is its own display of a place in
line, and admission (a position at or before ``serving``) is always read from its row.

An admitted or expired visitor's status depends on their own session, which memory does
not hold: their ETag names the room's ``state_version`` instead (any room change makes
their next poll a full answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

# Below this, ``ahead`` is exact: the front of the line sees every step.
EXACT_AHEAD_BELOW = 100


@dataclass(frozen=True)
class RoomSnapshot:
    """The figures of a room that decide what a visitor in line sees."""

    state_version: int
    serving: int
    sold_out: bool
    when_sold_out: str
    admission_rate_per_minute: int
    shuffled: bool

    @classmethod
    def from_row(cls, row: Any) -> RoomSnapshot:
        """From a room row, or a ``notify_room`` payload (the same names)."""
        return cls(
            state_version=int(row["state_version"]),
            serving=int(row["serving"]),
            sold_out=bool(row["sold_out"]),
            when_sold_out=str(row["when_sold_out"]),
            admission_rate_per_minute=int(row["admission_rate_per_minute"]),
            shuffled=_shuffled(row),
        )


def _shuffled(row: Any) -> bool:
    shuffled = row.get("shuffled")
    return bool(shuffled) if shuffled is not None else row["shuffled_at"] is not None


def shown_ahead(ahead: int) -> int:
    """``ahead`` as shown: exact below 100, beyond rounded up to half its leading power of
    ten (1,234 -> 1,500; 12,345 -> 15,000)."""
    if ahead < EXACT_AHEAD_BELOW:
        return ahead
    step = 10 ** (len(str(ahead)) - 1) // 2
    return math.ceil(ahead / step) * step


@dataclass(frozen=True)
class LineView:
    """What a visitor in line sees (``state``: ``waiting``, ``prequeue`` or ``sold_out``)."""

    state: Literal["waiting", "prequeue", "sold_out"]
    ahead: int | None = None
    estimated_wait_s: int | None = None
    waitlist: bool = False


def line_view(position: int | None, room: RoomSnapshot) -> LineView:
    """The view of a visitor in line at ``position`` (None: in the pre-queue)."""
    if room.sold_out:
        return LineView("sold_out", waitlist=room.when_sold_out == "offer_waitlist")
    if position is None:
        return LineView("prequeue")
    ahead = shown_ahead(max(0, position - room.serving - 1))
    return LineView("waiting", ahead, math.ceil(ahead * 60 / room.admission_rate_per_minute))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class TicketRef:
    """What an in-line tag names of the visitor's ticket: with the position and the room's
    snapshot, their whole status (``visitors.line_ticket``)."""

    ticket_id: int
    joined_at: datetime

    def part(self) -> str:
        return f"{self.ticket_id}-{(self.joined_at - EPOCH) // MICROSECOND}"

    @classmethod
    def parse(cls, part: str) -> TicketRef | None:
        ticket_id, _, micros = part.partition("-")
        if not (ticket_id.isdigit() and micros.isdigit()):
            return None
        return cls(int(ticket_id), EPOCH + int(micros) * MICROSECOND)


def line_tag(
    user_id: int, position: int | None, view: LineView, ticket: TicketRef | None = None
) -> str:
    """The ETag of a visitor in line: who, where, what they see, and which ticket."""
    where = "-" if position is None else str(position)
    seen = f"{view.state}.{view.ahead}.{view.estimated_wait_s}.{int(view.waitlist)}"
    which = "" if ticket is None else f".{ticket.part()}"
    return f'"{user_id}.{where}.{seen}{which}"'


def line_ticket(etag: str) -> TicketRef | None:
    """The ticket an in-line tag names (None for any other tag)."""
    parts = etag.strip('"').split(".")
    return TicketRef.parse(parts[6]) if len(parts) == 7 else None


def session_tag(user_id: int, state_version: int) -> str:
    """The ETag of an admitted or expired visitor: the room's state version."""
    return f'"{user_id}.v{state_version}"'


def line_position(etag: str, user_id: int) -> tuple[bool, int | None]:
    """Whether ``etag`` is ``user_id``'s tag of a place in line, and that place (None: the
    pre-queue); ``(False, None)`` for a session tag or anything else."""
    parts = etag.strip('"').split(".")
    if len(parts) < 3 or parts[0] != str(user_id):
        return False, None
    if parts[1] == "-":
        return True, None
    return (True, int(parts[1])) if parts[1].isdigit() else (False, None)


def still_current(etag: str, user_id: int, room: RoomSnapshot) -> bool:
    """Whether a status with ``etag`` is what ``user_id`` would be shown now, as far as
    this replica's snapshot of the room tells."""
    parts = etag.strip('"').split(".")
    if len(parts) < 2 or parts[0] != str(user_id):
        return False
    if len(parts) == 2:
        return parts[1] == f"v{room.state_version}"
    if parts[1] == "-":
        position = None
        if room.shuffled:
            return False  # the shuffle placed them: their view moved
    elif parts[1].isdigit():
        position = int(parts[1])
        if position <= room.serving:
            return False  # admitted in order: they are no longer in line
    else:
        return False
    return etag == line_tag(user_id, position, line_view(position, room), line_ticket(etag))


def current_tag(if_none_match: str | None, user_id: int, room: RoomSnapshot | None) -> str | None:
    """The tag of an ``If-None-Match`` header still current for ``user_id``, if any."""
    if room is None:
        return None
    for tag in (if_none_match or "").split(","):
        tag = tag.strip().removeprefix("W/")
        if tag and still_current(tag, user_id, room):
            return tag
    return None
