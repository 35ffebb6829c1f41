"""A user's bookings, read from the bookings service's internal API.

Contract: ``GET /internal/users/{id}/bookings?page=&limit=`` answers
``{"items": [booking...], "total", "page", "limit"}``. Until the bookings service
serves that route it answers 404, which reads as "no bookings yet".
"""

from __future__ import annotations

import logging
from typing import Any

from evently.core.clients import InternalClient
from evently.core.errors import ServiceUnavailable

log = logging.getLogger("evently.users.bookings")


def empty_page(page: int, limit: int) -> dict[str, Any]:
    return {"items": [], "total": 0, "page": page, "limit": limit}


async def bookings_of_user(
    bookings: InternalClient, user_id: int, page: int, limit: int
) -> dict[str, Any]:
    """One page of ``user_id``'s bookings, passed through from the bookings service."""
    status, data = await bookings.get(
        f"/internal/users/{user_id}/bookings", params={"page": page, "limit": limit}
    )
    if status == 404:
        return empty_page(page, limit)
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("items"), list):
        log.warning("bookings service answered %s to a user bookings query", status)
        raise ServiceUnavailable(
            "The bookings service could not list your bookings; try again shortly.",
            code="bookings_unavailable",
            headers={"Retry-After": "2"},
        )
    return {
        "items": data["items"],
        "total": data.get("total", len(data["items"])),
        "page": data.get("page", page),
        "limit": data.get("limit", limit),
    }
