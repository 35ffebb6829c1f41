"""The fairness report of a room (docs/waiting-room.md, "Fairness report").

Plain functions: the statistics (``average_ranks``, ``spearman``, ``percentile``,
``fifo_fidelity``, ``achieved_rate``) are pure; ``build_report`` turns a room's rows
into the report; ``fairness_report`` reads the rows in one consistent snapshot.

Arrival is ``joined_at``, except that everyone who joined the pre-queue counts as
arriving at the sale opening (``sale_opens_at``, or the shuffle if the sale has no
opening time): among them the seeded shuffle, published with its seed, is the order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from evently.waiting_room import queries
from evently.waiting_room.errors import WaitingRoomNotFound
from evently.waiting_room.report_models import (
    Abandoned,
    AdmissionRate,
    FairnessReport,
    OrderCorrelation,
    PrequeueTicket,
    Refusals,
    ShuffleProof,
    WaitingTimes,
    Winners,
)
from evently.waiting_room.shuffle import ALGORITHM
from evently.waiting_room.visitors import room_state

NOT_COUNTED = [
    "joins for events without a room (404 waiting_room_not_found): there is no room to "
    "count them against",
    "requests refused before reaching the room: unauthenticated (401), malformed, or "
    "turned away by the gateway",
    "holds bookings refused for a missing, invalid or ended admission token (403 "
    "admission_required, admission_token_invalid, admission_ended): bookings' own logs "
    "and metrics",
    "holds bookings refused for lack of seats (409): bookings' concern",
]

# --- statistics (pure) ----------------------------------------------------------------


def average_ranks(values: Sequence[Any]) -> list[float]:
    """1-based ranks of ``values``; tied values share the average of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for index in order[start : end + 1]:
            ranks[index] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: Sequence[Any], ys: Sequence[Any]) -> float | None:
    """Spearman's rank correlation (Pearson's over average ranks, so ties are handled);
    None with fewer than two pairs or when either side is constant."""
    if len(xs) != len(ys):
        raise ValueError("spearman needs pairs")
    if len(xs) < 2:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mean = (len(xs) + 1) / 2  # the mean of any average ranks of n values
    sxy = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mean) ** 2 for a in rx)
    syy = sum((b - mean) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def fifo_fidelity(got_seats: Sequence[bool]) -> tuple[int, int, float | None]:
    """``got_seats`` in arrival order -> (K, winners among the first K, their share)."""
    k = sum(got_seats)
    first = sum(got_seats[:k])
    return k, first, (first / k if k else None)


def achieved_rate(admitted: int, measured_s: float) -> float | None:
    """Admissions per minute over the ticks that measure the rate (the ticker's record:
    neither they nor the tick before were capped by anything but the rate). None before
    any such tick."""
    if measured_s <= 0:
        return None
    return admitted / measured_s * 60


# --- the report -----------------------------------------------------------------------


def _opening(room: Mapping[str, Any]) -> datetime | None:
    return room["sale_opens_at"] or room["shuffled_at"]


def _arrival(ticket: Mapping[str, Any], opening: datetime | None) -> datetime:
    if ticket["prequeue"] and opening is not None:
        return max(ticket["joined_at"], opening)
    return ticket["joined_at"]


def _admission_key(ticket: Mapping[str, Any]) -> tuple[datetime, int]:
    return ticket["admitted_at"], ticket["position"] or 0


def build_report(
    room: Mapping[str, Any],
    tickets: Sequence[Mapping[str, Any]],
    refusals: Mapping[str, int],
    buyers_without_ticket: int,
    now: datetime,
) -> FairnessReport:
    """The report from a room's row, its tickets (with ``held``/``confirmed`` counts of
    their visitor) and its refusal counts."""
    opening = _opening(room)
    arrival = {t["id"]: _arrival(t, opening) for t in tickets}
    in_arrival_order = sorted(
        tickets,
        key=lambda t: (arrival[t["id"]], t["position"] is None, t["position"] or 0, t["id"]),
    )
    admitted = [t for t in tickets if t["admitted_at"] is not None]
    late = [t for t in admitted if not t["prequeue"]]
    prequeue = sorted((t for t in tickets if t["prequeue"]), key=lambda t: t["id"])
    placed = [t for t in prequeue if t["position"] is not None]
    k, first_k, fidelity = fifo_fidelity([t["confirmed"] > 0 for t in in_arrival_order])
    rate = achieved_rate(room["rate_measured_admitted"], room["rate_measured_s"])
    configured = room["admission_rate_per_minute"]
    waits = [max(0.0, (t["admitted_at"] - arrival[t["id"]]).total_seconds()) for t in admitted]
    never_held = [t for t in tickets if t["held"] == 0 and t["confirmed"] == 0]
    return FairnessReport(
        event_id=room["event_id"],
        generated_at=now,
        state=room_state(room, now),
        sale_opens_at=room["sale_opens_at"],
        visitors=len(tickets),
        prequeued=len(prequeue),
        admitted=len(admitted),
        arrival_vs_admission=OrderCorrelation(
            admitted=len(admitted),
            spearman=spearman(
                [arrival[t["id"]] for t in admitted], [_admission_key(t) for t in admitted]
            ),
            spearman_after_opening=spearman(
                [t["joined_at"] for t in late], [_admission_key(t) for t in late]
            ),
        ),
        winners=Winners(visitors_with_seats=k, first_k_with_seats=first_k, fifo_fidelity=fidelity),
        shuffle=ShuffleProof(
            seed_commitment=room["seed_commitment"],
            seed=room["seed"].hex() if room["shuffled_at"] is not None else None,
            algorithm=ALGORITHM,
            shuffled_at=room["shuffled_at"],
            prequeue=[PrequeueTicket(ticket_id=t["id"], position=t["position"]) for t in prequeue],
            spearman_join_vs_position=spearman(
                [(t["joined_at"], t["id"]) for t in placed], [t["position"] for t in placed]
            ),
        ),
        admission_rate=AdmissionRate(
            configured_per_minute=configured,
            achieved_per_minute=rate,
            error=None if rate is None else rate / configured - 1,
            measured_s=room["rate_measured_s"],
            measured_admissions=room["rate_measured_admitted"],
            capped_ticks=room["capped_ticks"],
            first_admission_at=min((t["admitted_at"] for t in admitted), default=None),
            last_admission_at=max((t["admitted_at"] for t in admitted), default=None),
        ),
        waiting_time=WaitingTimes(
            admitted=len(waits),
            p50_s=percentile(waits, 50),
            p90_s=percentile(waits, 90),
            p99_s=percentile(waits, 99),
            max_s=max(waits, default=None),
        ),
        abandoned=Abandoned(
            admitted_never_held=sum(1 for t in never_held if t["status"] == "expired"),
            shopping_without_hold=sum(1 for t in never_held if t["status"] == "admitted"),
            still_waiting=sum(1 for t in tickets if t["admitted_at"] is None),
        ),
        refusals=Refusals(
            joins_refused=dict(refusals),
            total=sum(refusals.values()),
            buyers_without_ticket=buyers_without_ticket,
            not_counted=NOT_COUNTED,
        ),
    )


async def fairness_report(
    pool: asyncpg.Pool, event_id: int, now: datetime | None = None
) -> FairnessReport:
    """``event_id``'s report, read in one snapshot; ``WaitingRoomNotFound`` without a room."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        room = await conn.fetchrow(queries.SELECT_ROOM, event_id)
        if room is None:
            raise WaitingRoomNotFound(event_id)
        tickets = await conn.fetch(queries.REPORT_TICKETS, event_id)
        refusals = {
            r["code"]: r["refused"] for r in await conn.fetch(queries.REPORT_REFUSALS, event_id)
        }
        without = await conn.fetchval(queries.REPORT_BUYERS_WITHOUT_TICKET, event_id)
    return build_report(room, tickets, refusals, without, now or datetime.now(UTC))
