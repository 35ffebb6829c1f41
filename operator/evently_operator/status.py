"""Live sales figures for an Event's status, from the bookings service's internal API.

``GET {BOOKINGS_URL}/internal/events/{id}/availability`` (``X-Internal-Key``) answers
``{"event_id", "capacity", "sold", "held", "available", "on_sale", "sold_out",
"waitlisted", "status"}``; 404 means bookings has not heard of the event yet (its
``event.changed`` message is still on the way), so nothing is sold or held.
"""

from __future__ import annotations

from dataclasses import dataclass

from evently.events.bookings_client import BookingsClient


@dataclass(frozen=True)
class Figures:
    sold: int
    held: int
    available: int
    waitlisted: int

    def as_status(self) -> dict[str, int]:
        return {
            "sold": self.sold,
            "held": self.held,
            "available": self.available,
            "waitlisted": self.waitlisted,
        }


async def fetch_figures(bookings: BookingsClient, event_id: int, capacity: int) -> Figures:
    """The event's figures (nothing booked yet if bookings does not know it).

    Raises the events service's ``BookingsUnavailable`` if bookings cannot be asked.
    """
    live = await bookings.availability(event_id)
    if live is None:
        return Figures(sold=0, held=0, available=capacity, waitlisted=0)
    return Figures(
        sold=live.sold, held=live.held, available=live.available, waitlisted=live.waitlisted
    )
