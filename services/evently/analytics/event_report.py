"""One event's sales report: seats, revenue, conversion, waitlist and a sales timeline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from evently.analytics import queries
from evently.analytics.figures import money, ratio
from evently.core.errors import FieldError, NotFound, ValidationFailed

BUCKETS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
}
MAX_TIMELINE_POINTS = 1440
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelineRange:
    """Epoch-aligned buckets of ``width`` covering ``[start, end)``."""

    bucket: str
    start: datetime
    end: datetime

    @property
    def width(self) -> timedelta:
        return BUCKETS[self.bucket]

    @property
    def first_bucket(self) -> datetime:
        return floor_to_bucket(self.start, self.width)

    @property
    def point_count(self) -> int:
        """How many buckets :meth:`bucket_starts` would make, computed without making them."""
        whole, rest = divmod(self.end - self.first_bucket, self.width)
        return max(1, whole + (1 if rest else 0))

    def bucket_starts(self) -> list[datetime]:
        starts, current = [], self.first_bucket
        while current < self.end or not starts:
            starts.append(current)
            current += self.width
        return starts


def floor_to_bucket(moment: datetime, width: timedelta) -> datetime:
    """The start of the epoch-aligned bucket containing ``moment``."""
    return EPOCH + ((moment - EPOCH) // width) * width


def timeline_range(
    bucket: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    first_activity: datetime | None,
) -> TimelineRange:
    """Resolve the requested range: ``to`` defaults to now, ``from`` to the first booking
    (at most ``MAX_TIMELINE_POINTS`` buckets back); an explicit range must fit that limit."""
    width = BUCKETS[bucket]
    end = end or now
    if start is None:
        start = max(first_activity or end, end - width * (MAX_TIMELINE_POINTS - 1))
        start = min(start, end)
    elif start >= end:
        raise ValidationFailed(
            "'from' must be before 'to'",
            errors=[FieldError("query.from", "must be before 'to' (default: now)")],
        )
    timeline = TimelineRange(bucket, start, end)
    # Counted, never enumerated: a range of centuries in 1m buckets must cost nothing.
    points = timeline.point_count
    if points > MAX_TIMELINE_POINTS:
        raise ValidationFailed(
            f"The range holds {points} buckets of {bucket}; at most {MAX_TIMELINE_POINTS}",
            errors=[
                FieldError(
                    "query.bucket",
                    f"{points} buckets in range, at most {MAX_TIMELINE_POINTS}: "
                    "use a larger bucket or a shorter range",
                )
            ],
        )
    return timeline


async def event_report(
    pool: asyncpg.Pool,
    event_id: int,
    bucket: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Everything analytics knows about one event; 404 if it knows nothing."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        now = await conn.fetchval(queries.CURRENT_TIME)
        facts = await conn.fetchrow(queries.EVENT_FACTS, event_id)
        counts = await conn.fetchrow(queries.EVENT_BOOKING_COUNTS, event_id)
        waitlist_rows = await conn.fetch(queries.EVENT_WAITLIST_TRANSITIONS, event_id)
        gates = await conn.fetch(queries.EVENT_CHECKINS_BY_GATE, event_id)
        if (
            facts["event_id_from_events"] is None
            and facts["event_id_from_inventory"] is None
            and counts["holds_placed"] == 0
            and not waitlist_rows
            and not gates
        ):
            raise NotFound(f"Analytics has no facts about event {event_id}", code="event_not_found")
        timeline = timeline_range(bucket, start, end, now, counts["first_activity_at"])
        revenue = await conn.fetch(queries.EVENT_REVENUE, event_id)
        entries = await conn.fetch(queries.EVENT_WAITLIST_ENTRIES, event_id)
        points = await sales_timeline(conn, event_id, timeline)
    return {
        "event_id": event_id,
        "name": facts["name"],
        "status": facts["status"],
        "currency": facts["currency"],
        "as_of": now,
        **seat_figures(facts, counts),
        "revenue_by_currency": {r["currency"]: money(r["amount"]) for r in revenue},
        "bookings": {
            "holds_placed": counts["holds_placed"],
            "confirmed": counts["confirmed"],
            "cancelled": counts["cancelled"],
            "expired": counts["expired"],
            "active_holds": counts["active_holds"],
            "tickets_sold": counts["tickets_sold"],
            "tickets_held": counts["tickets_held"],
            "tickets_cancelled": counts["tickets_cancelled"],
            "tickets_expired": counts["tickets_expired"],
        },
        "hold_to_confirm_conversion": ratio(counts["confirmed"], counts["holds_placed"]),
        "waitlist": waitlist_figures(waitlist_rows, entries),
        "checkins": checkin_figures(gates, counts["tickets_sold"]),
        "timeline": {
            "bucket": timeline.bucket,
            "from": timeline.start,
            "to": timeline.end,
            "points": points,
        },
    }


def seat_figures(facts: asyncpg.Record, counts: asyncpg.Record) -> dict[str, Any]:
    """Capacity, sold, held and available: bookings' own inventory counts when analytics
    has received them, else derived from the booking facts."""
    from_inventory = facts["event_id_from_inventory"] is not None
    capacity = facts["capacity"] if from_inventory else facts["event_capacity"]
    sold = facts["sold"] if from_inventory else counts["tickets_sold"]
    held = facts["held"] if from_inventory else counts["tickets_held"]
    if from_inventory:
        available = facts["available"]
    elif capacity is not None:
        available = max(0, capacity - sold - held)
    else:
        available = None
    return {
        "capacity": capacity,
        "sold": sold,
        "held": held,
        "available": available,
        "utilization": ratio(sold + held, capacity),
        "sell_through": ratio(sold, capacity),
        "on_sale": facts["on_sale"],
        "sold_out": facts["sold_out"],
        "seats_source": "inventory" if from_inventory else "bookings",
        "inventory_version": facts["inventory_version"],
    }


WAITLIST_TRANSITIONS = {
    "joined": "joins",
    "offered": "offers",
    "converted": "conversions",
    "offer_expired": "offer_expirations",
    "left": "left",
}


def waitlist_figures(transitions: list[asyncpg.Record], entries: list[asyncpg.Record]) -> dict:
    """Joins, offers, conversions (and their rate per offer) and entries by status."""
    figures: dict[str, Any] = dict.fromkeys(WAITLIST_TRANSITIONS.values(), 0)
    for row in transitions:
        name = WAITLIST_TRANSITIONS.get(row["transition"])
        if name is not None:
            figures[name] = row["entries"]
    figures["offer_conversion"] = ratio(figures["conversions"], figures["offers"])
    figures["entries_by_status"] = {r["status"]: r["entries"] for r in entries}
    return figures


def checkin_figures(gates: list[asyncpg.Record], tickets_sold: int) -> dict[str, Any]:
    """Tickets checked in at the door, per gate, and their share of the tickets sold."""
    checked_in = sum(row["checked_in"] for row in gates)
    return {
        "checked_in": checked_in,
        "check_in_rate": ratio(checked_in, tickets_sold),
        "by_gate": {row["gate"]: row["checked_in"] for row in gates},
        "last_checked_in_at": max((row["last_checked_in_at"] for row in gates), default=None),
    }


async def sales_timeline(
    conn: asyncpg.Connection, event_id: int, timeline: TimelineRange
) -> list[dict[str, Any]]:
    """One point per bucket: holds placed, confirmations (gross, even if cancelled later),
    tickets, revenue, cancellations, expirations and check-ins, with tickets per minute."""
    args = (event_id, timeline.width, timeline.start, timeline.end)
    starts = timeline.bucket_starts()
    points: dict[datetime, dict[str, Any]] = {
        s: {
            "start": s,
            "holds": 0,
            "confirmed": 0,
            "tickets_sold": 0,
            "revenue_by_currency": {},
            "cancelled": 0,
            "expired": 0,
            "checked_in": 0,
        }
        for s in starts
    }
    for row in await conn.fetch(queries.TIMELINE_HOLDS, *args):
        points[row["bucket"]]["holds"] = row["holds"]
    tickets: dict[datetime, int] = defaultdict(int)
    for row in await conn.fetch(queries.TIMELINE_CONFIRMATIONS, *args):
        point = points[row["bucket"]]
        point["confirmed"] += row["confirmed"]
        tickets[row["bucket"]] += row["tickets"]
        if row["currency"] is not None:
            point["revenue_by_currency"][row["currency"]] = money(row["amount"])
    for row in await conn.fetch(queries.TIMELINE_CANCELLATIONS, *args):
        points[row["bucket"]]["cancelled"] = row["cancelled"]
    for row in await conn.fetch(queries.TIMELINE_EXPIRATIONS, *args):
        points[row["bucket"]]["expired"] = row["expired"]
    for row in await conn.fetch(queries.TIMELINE_CHECKINS, *args):
        points[row["bucket"]]["checked_in"] = row["checked_in"]
    minutes = timeline.width.total_seconds() / 60
    for start, point in points.items():
        point["tickets_sold"] = tickets[start]
        point["tickets_per_minute"] = round(tickets[start] / minutes, 4)
    return list(points.values())
