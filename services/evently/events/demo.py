"""Demo venues and events for `evently up --demo`: published, in several cities, on sale now.

Written through the repository (so each goes out through the outbox like any change);
an event already present by name at its venue is left alone, so loading twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from evently.events import repository
from evently.events.models import EventInput

VENUES = {
    "hall": {"name": "Grand Hall", "address": "1 Unter den Linden", "city": "Berlin",
             "capacity": 2000, "layout": {"sections": ["stalls", "circle", "balcony"]}},
    "arena": {"name": "Spree Arena", "address": "10 Mühlenstraße", "city": "Berlin",
              "capacity": 15000},
    "olympia": {"name": "Olympia", "address": "28 Boulevard des Capucines", "city": "Paris",
                "capacity": 1900},
    "coliseu": {"name": "Coliseu", "address": "96 Rua das Portas de Santo Antão",
                "city": "Lisbon", "capacity": 4000},
}  # fmt: skip
EVENTS: list[dict[str, Any]] = [
    {"name": "Berlin Philharmonic: New Year's Gala", "type": "concert", "venue": "hall",
     "days": 30, "capacity": 1500, "price": "89.00", "currency": "EUR"},
    {"name": "Derby Night", "type": "sports", "venue": "arena", "days": 14,
     "capacity": 12000, "price": "45.00", "currency": "EUR", "max_per_user": 6},
    {"name": "Flash Sale: Secret Show", "type": "concert", "venue": "hall", "days": 7,
     "capacity": 100, "price": "19.90", "currency": "EUR", "max_per_user": 2,
     "hold_ttl_seconds": 120},
    {"name": "Chanson Evening", "type": "concert", "venue": "olympia", "days": 21,
     "capacity": 1800, "price": "55.00", "currency": "EUR"},
    {"name": "Le Misanthrope", "type": "theatre", "venue": "olympia", "days": 45,
     "capacity": 900, "price": "38.50", "currency": "EUR"},
    {"name": "Fado na Cidade", "type": "concert", "venue": "coliseu", "days": 10,
     "capacity": 3500, "price": "32.00", "currency": "EUR"},
    {"name": "Late Night Jazz: Quartet Session", "type": "concert", "venue": "hall",
     "days": 3, "capacity": 300, "price": "25.00", "currency": "EUR"},
]  # fmt: skip


def demo_inputs(now: datetime) -> list[EventInput]:
    """The demo events, starting ``days`` from ``now``, their sales open since yesterday."""
    inputs = []
    for spec in EVENTS:
        spec = dict(spec)
        starts = (now + timedelta(days=spec.pop("days"))).replace(
            hour=19, minute=30, second=0, microsecond=0
        )
        venue = VENUES[spec.pop("venue")]
        inputs.append(
            EventInput.model_validate(
                {
                    **spec,
                    "description": f"{spec['name']} at {venue['name']}, {venue['city']}.",
                    "status": "published",
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=3),
                    "sale_opens_at": now - timedelta(days=1),
                    "sale_closes_at": starts,
                    "venue": venue,
                }
            )
        )
    return inputs


async def load_demo(env: Mapping[str, str], base_url: str, report: list[str]) -> None:
    """Create the demo events that are not there yet and re-date those that have ended."""
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        created, redated = await load_demo_events(conn, datetime.now(UTC))
    finally:
        await conn.close()
    cities = sorted({v["city"] for v in VENUES.values()})
    report.append(
        f"  events: {len(EVENTS)} published events in {', '.join(cities)} "
        f"({created} new, {redated} re-dated), on sale now: {base_url}/api/v1/events"
    )


async def load_demo_events(conn: asyncpg.Connection, now: datetime) -> tuple[int, int]:
    """Make every demo event exist and lie ahead of ``now``: ``(created, re-dated)``.

    Demo data is dated when it is first loaded; a demo database kept for weeks would
    otherwise list only past events, and the demo booking would aim at one of them. An
    event whose sale has closed is moved to its fresh dates (an update, through the
    outbox like any other); one still ahead is left alone, so loading twice is a no-op.
    """
    created = redated = 0
    for data in demo_inputs(now):
        existing = await repository.find_event_id(conn, data.name, data.venue.name, data.venue.city)
        if existing is None:
            await repository.create_event(conn, data)
            created += 1
            continue
        event = await repository.get_event(conn, existing)
        if event is not None and event.status == "published" and _sale_over(event, now):
            await repository.update_event(conn, existing, data)
            redated += 1
    return created, redated


def _sale_over(event: Any, now: datetime) -> bool:
    closes = event.sale_closes_at or event.ends_at
    return closes <= now
