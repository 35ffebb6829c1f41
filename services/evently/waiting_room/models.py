"""The waiting room's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pydantic
from pydantic import Field

from evently.core.contracts import WhenSoldOut

RoomState = Literal["disabled", "scheduled", "prequeue", "open", "sold_out"]
VisitorState = Literal["prequeue", "waiting", "admitted", "expired", "completed", "sold_out"]


class RoomOut(pydantic.BaseModel):
    """A room as anyone may see it, with what makes its pre-queue order verifiable."""

    event_id: int
    state: RoomState = Field(
        description="scheduled: not accepting visitors yet; prequeue: joiners are shuffled "
        "at sale opening; open: first come, first served; sold_out: nobody is admitted"
    )
    enabled: bool
    prequeue_opens_at: datetime | None
    sale_opens_at: datetime | None
    admission_rate_per_minute: int
    max_active_shoppers: int
    session_ttl_s: int
    when_sold_out: WhenSoldOut
    seed_commitment: str = Field(description="SHA-256 of the shuffle seed, hex (from the start)")
    seed: str | None = Field(description="The shuffle seed, hex, once the shuffle is done")
    shuffle_algorithm: str
    shuffled_at: datetime | None
    prequeued: int = Field(description="Visitors the shuffle placed")
    serving: int = Field(description="The highest queue position admitted so far")
    waiting: int = Field(description="Visitors waiting (the queue length)")
    active_shoppers: int
    admitted: int = Field(description="Visitors admitted so far")


class Link(pydantic.BaseModel):
    """An API call the visitor can make next."""

    method: Literal["GET", "POST"]
    href: str


class WaitlistOffer(pydantic.BaseModel):
    """Where a visitor of a sold-out room joins the event's waitlist (bookings)."""

    join: Link = Field(description='POST with {"quantity": n} to join the waitlist')
    status: Link = Field(description="Your place in the waitlist once joined")

    @classmethod
    def for_event(cls, event_id: int) -> WaitlistOffer:
        href = f"/api/v1/events/{event_id}/waitlist"
        return cls(
            join=Link(method="POST", href=href), status=Link(method="GET", href=href + "/me")
        )


class QueueTicketOut(pydantic.BaseModel):
    """A visitor's place in a room: the answer to joining and to the status poll."""

    event_id: int
    ticket_id: int | None = Field(
        description="Your queue ticket (null only in a join answered sold_out while the "
        "event is sold out: no ticket is issued then; join again if the room reopens)"
    )
    state: VisitorState = Field(
        description="prequeue: placed at sale opening; waiting: in line; admitted: may buy "
        "with admission_token until admission_expires_at; expired: the session ended (its "
        "time was up, or it was idle); completed: you bought, and the session ended; "
        "sold_out: the event sold out while you waited (see waitlist)"
    )
    joined_at: datetime | None = Field(description="When you joined (null without a ticket)")
    position: int | None = Field(description="Place in line (null until the shuffle)")
    ahead: int | None = Field(
        description="Visitors ahead in line: exact below 100, beyond rounded up (to 150, "
        "200, ..., 1,500, 2,000, ...); null until the shuffle"
    )
    estimated_wait_s: int | None = Field(
        description="Seconds until admission at the room's rate (null when unknown)"
    )
    admission_token: str | None = Field(
        description="Send as the Admission-Token header when holding seats (admitted only)"
    )
    admission_expires_at: datetime | None
    waitlist: WaitlistOffer | None = Field(
        None,
        description="While sold out, in a room whose when_sold_out is offer_waitlist: where "
        "to join the event's waitlist (null otherwise)",
    )
