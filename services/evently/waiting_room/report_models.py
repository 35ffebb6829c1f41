"""The fairness report's shape (docs/waiting-room.md, "Fairness report")."""

from __future__ import annotations

from datetime import datetime

import pydantic
from pydantic import Field

from evently.waiting_room.models import RoomState


class OrderCorrelation(pydantic.BaseModel):
    """Spearman rank correlations between arrival and admission order."""

    admitted: int = Field(description="Admitted visitors the correlation is over")
    spearman: float | None = Field(
        description="Arrival rank (joined_at; pre-queue joiners tie at the sale opening) vs "
        "admission rank, over every admitted visitor; null with fewer than two"
    )
    spearman_after_opening: float | None = Field(
        description="The same over admitted visitors who joined after the opening (first "
        "come, first served: 1.0 when the room keeps arrival order)"
    )


class PrequeueTicket(pydantic.BaseModel):
    ticket_id: int
    position: int | None


class ShuffleProof(pydantic.BaseModel):
    """What anyone needs to re-run the pre-queue shuffle and check it."""

    seed_commitment: str = Field(description="SHA-256 of the seed, hex, published from the start")
    seed: str | None = Field(description="The seed, hex, once the shuffle is done")
    algorithm: str
    shuffled_at: datetime | None
    prequeue: list[PrequeueTicket] = Field(
        description="Every pre-queue ticket id with the position the shuffle gave it"
    )
    spearman_join_vs_position: float | None = Field(
        description="Pre-queue join order vs shuffled position (near 0 for a fair shuffle)"
    )


class Winners(pydantic.BaseModel):
    """FIFO fidelity: did the first arrivals get the seats?"""

    visitors_with_seats: int = Field(
        description="K: visitors holding a queue ticket who confirmed at least one booking"
    )
    first_k_with_seats: int = Field(description="Of the first K arrivals, how many got seats")
    fifo_fidelity: float | None = Field(
        description="first_k_with_seats / K (null while nobody has seats)"
    )


class AdmissionRate(pydantic.BaseModel):
    configured_per_minute: int
    achieved_per_minute: float | None = Field(
        description="Admissions per minute over the ticks where only the rate held admission "
        "back (not the event sold out, the shopper cap or the seats left, nor an empty "
        "queue; nor the tick after such a one, which spends credit banked meanwhile): "
        "measured_admissions / measured_s (null before any such tick)"
    )
    error: float | None = Field(description="achieved / configured - 1 (a fraction)")
    measured_s: float = Field(description="Seconds of the ticks that measure the rate")
    measured_admissions: int = Field(description="Admissions in those ticks")
    capped_ticks: int = Field(
        description="Ticks where something other than the rate capped admission"
    )
    first_admission_at: datetime | None
    last_admission_at: datetime | None


class WaitingTimes(pydantic.BaseModel):
    """Seconds from arrival (pre-queue: the opening) to admission, admitted visitors only."""

    admitted: int
    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    max_s: float | None


class Abandoned(pydantic.BaseModel):
    admitted_never_held: int = Field(
        description="Admitted visitors whose session ended without a single hold"
    )
    shopping_without_hold: int = Field(
        description="Admitted visitors still in their session who have not held yet"
    )
    still_waiting: int = Field(
        description="Visitors never admitted (when the room is sold_out: waiting when the "
        "sale ended)"
    )


class Refusals(pydantic.BaseModel):
    joins_refused: dict[str, int] = Field(description="Refused joins by problem code")
    total: int
    buyers_without_ticket: int = Field(
        description="Visitors who confirmed seats for the event without a queue ticket "
        "(bought before the room was on, or while it was disabled)"
    )
    not_counted: list[str] = Field(description="Refusals this report cannot see")


class FairnessReport(pydantic.BaseModel):
    """How fairly a room admitted its visitors, and what proves the pre-queue order."""

    event_id: int
    generated_at: datetime
    state: RoomState
    sale_opens_at: datetime | None
    visitors: int = Field(description="Queue tickets")
    prequeued: int
    admitted: int
    arrival_vs_admission: OrderCorrelation
    winners: Winners
    shuffle: ShuffleProof
    admission_rate: AdmissionRate
    waiting_time: WaitingTimes
    abandoned: Abandoned
    refusals: Refusals
