"""The bookings service's internal API, as the events service uses it.

Bookings is the source of truth for seats: ``GET /internal/events/{id}/availability``
answers ``{"event_id", "capacity", "sold", "held", "available", "on_sale", "sold_out",
"waitlisted", "status"}``, or 404 while it holds no inventory for the event yet.
``GET /internal/events/{id}/seats`` answers a seated event's seats that are not free
(``LiveSeatStatus``), or 404 likewise.
"""

from __future__ import annotations

from typing import TypeVar

import aiohttp
import pydantic

from evently.core.clients import InternalClient
from evently.core.seat_maps import LiveSeatStatus
from evently.events.errors import BookingsUnavailable
from evently.events.models import LiveAvailability, ReservedSeats

Answer = TypeVar("Answer", bound=pydantic.BaseModel)


class BookingsClient:
    """Reads seat figures from bookings; any answer but 200 or 404 is a 503."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str) -> None:
        self._client = InternalClient(session, base_url, api_key, "bookings")

    async def availability(self, event_id: int) -> LiveAvailability | None:
        """Bookings' live figures, or None if it has no inventory for the event yet."""
        return await self._get(f"/internal/events/{event_id}/availability", LiveAvailability)

    async def seat_status(self, event_id: int) -> LiveSeatStatus | None:
        """A seated event's seats that are not free now, or None if bookings has no
        seats for it yet (nothing is held or sold)."""
        return await self._get(f"/internal/events/{event_id}/seats", LiveSeatStatus)

    async def _get(self, path: str, shape: type[Answer]) -> Answer | None:
        try:
            status, data = await self._client.get(path)
        except ValueError as exc:  # a body that is not JSON
            raise BookingsUnavailable("The bookings service answered garbage") from exc
        if status == 404:
            return None
        if status != 200:
            raise BookingsUnavailable(f"The bookings service answered {status}; try again shortly")
        try:
            return shape.model_validate(data)
        except pydantic.ValidationError as exc:
            raise BookingsUnavailable("The bookings service answered an unexpected shape") from exc

    async def reserved_seats(self, event_id: int) -> ReservedSeats:
        """Seats sold and held (both 0 while bookings has no inventory for the event)."""
        figures = await self.availability(event_id)
        if figures is None:
            return ReservedSeats()
        return ReservedSeats(sold=figures.sold, held=figures.held)
