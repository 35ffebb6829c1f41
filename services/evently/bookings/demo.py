"""Demo booking for `evently up --demo`: the demo customer books two seats.

Runs after the users and events demos, through the public API like any client. The
Idempotency-Key is fixed, so loading the demo again replays the same booking instead of
booking twice. The event reaches bookings through the events outbox, so this waits a
little (bounded) for it to become bookable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

DEMO_KEY = "evently-demo-booking-1"
ATTEMPTS = 20


async def load_demo(env: Mapping[str, str], base_url: str, report: list[str]) -> None:
    """Hold and confirm two seats of the first listed event for the demo customer."""
    from evently.users.demo import CUSTOMER_EMAIL, CUSTOMER_PASSWORD

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url, timeout=timeout) as http:
        async with http.post(
            "/api/v1/auth/login", json={"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD}
        ) as response:
            if response.status != 200:
                report.append("  bookings: no demo customer to book with")
                return
            token = (await response.json())["access_token"]
        event = await _first_event(http)
        if event is None:
            report.append("  bookings: no published events to book yet")
            return
        headers = {"Authorization": f"Bearer {token}"}
        booking, status = await _hold(http, headers, event["id"])
        if booking is None:
            report.append(f"  bookings: could not book event {event['id']} (last answer {status})")
            return
        async with http.post(
            f"/api/v1/bookings/{booking['id']}/confirm", headers=headers
        ) as response:
            outcome = "confirmed" if response.status == 200 else f"held ({response.status})"
    report.append(
        f"  booking  #{booking['id']}: {booking['quantity']} seats of '{event['name']}' for "
        f"{CUSTOMER_EMAIL}, {outcome}; live seats: GET "
        f"{base_url}/api/v1/events/{event['id']}/availability/stream"
    )


async def _first_event(http: aiohttp.ClientSession) -> dict[str, Any] | None:
    try:
        async with http.get("/api/v1/events", params={"limit": "1"}) as response:
            if response.status != 200:
                return None
            items = (await response.json()).get("items") or []
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return items[0] if items else None


async def _hold(
    http: aiohttp.ClientSession, headers: dict[str, str], event_id: int
) -> tuple[dict[str, Any] | None, int]:
    status = 0
    for _ in range(ATTEMPTS):
        async with http.post(
            "/api/v1/bookings",
            json={"event_id": event_id, "quantity": 2},
            headers={**headers, "Idempotency-Key": f"{DEMO_KEY}-{event_id}"},
        ) as response:
            status = response.status
            if status == 201:
                return await response.json(), status
            if status not in (404, 503):
                return None, status
        await asyncio.sleep(0.5)  # the event is still on its way through the outbox
    return None, status
