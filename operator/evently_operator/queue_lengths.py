"""Each Event's waiting room queue length, for ``status.waitingRoom.queueLength``.

The level sweep reads it, once per interval and only for Events whose spec has an
enabled room (``spec.sale.waitingRoom``), from the room's public
``GET {WAITING_ROOM_URL}/api/v1/events/{id}/waiting-room`` (its ``waiting`` field),
with a short timeout (``WAITING_ROOM_TIMEOUT_S``) and at most ``CONCURRENCY`` requests
at a time. A room that is down, slow or has not heard of the event yet changes nothing:
the last known length stays, and no pass fails because of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

CONCURRENCY = 16
Key = tuple[str, str]  # (namespace, name)


async def fetch_queue_length(
    http: aiohttp.ClientSession, base_url: str, event_id: int, timeout_s: float
) -> int | None:
    """The room's ``waiting`` count, or None if it cannot be had right now."""
    url = f"{base_url.rstrip('/')}/api/v1/events/{event_id}/waiting-room"
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                return None
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    waiting = body.get("waiting") if isinstance(body, dict) else None
    return waiting if isinstance(waiting, int) and not isinstance(waiting, bool) else None


async def refresh_queue_lengths(
    http: aiohttp.ClientSession,
    base_url: str,
    timeout_s: float,
    rooms: Mapping[Key, int],
    known: Mapping[Key, int],
) -> dict[Key, int]:
    """Queue lengths for ``rooms`` (key -> event id): fresh where the room answered, the
    ``known`` one where it did not; Events no longer in ``rooms`` are dropped."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(event_id: int) -> int | None:
        async with limit:
            return await fetch_queue_length(http, base_url, event_id, timeout_s)

    keys = list(rooms)
    fetched = await asyncio.gather(*(one(rooms[k]) for k in keys))
    result: dict[Key, int] = {}
    for key, length in zip(keys, fetched, strict=True):
        if length is not None:
            result[key] = length
        elif key in known:
            result[key] = known[key]
    return result
