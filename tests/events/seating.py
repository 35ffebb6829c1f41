"""Helpers for the venue, seat map and seated event tests: one call per thing to arrange."""

from __future__ import annotations

from typing import Any

from tests.events.test_seat_map_rules import small_map

ADMIN_VENUES = "/api/v1/admin/venues"
ADMIN_MAPS = "/api/v1/admin/seat-maps"


def venue_details(**overrides: Any) -> dict[str, Any]:
    body = {"name": "Opera House", "address": "2 Ring", "city": "Vienna", "capacity": 2000}
    return {**body, **overrides}


async def new_venue(client, tokens, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        ADMIN_VENUES, json=venue_details(**overrides), headers=tokens.admin()
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def new_map(client, tokens, venue_id: int, document: dict | None = None) -> dict[str, Any]:
    """Upload ``document`` (default: ``small_map()``, 6 sellable seats) as a new map."""
    response = await client.post(
        f"{ADMIN_VENUES}/{venue_id}/seat-maps", json=document or small_map(), headers=tokens.admin()
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def new_version(client, tokens, map_id: int, document: dict) -> dict[str, Any]:
    response = await client.post(
        f"{ADMIN_MAPS}/{map_id}/versions", json=document, headers=tokens.admin()
    )
    assert response.status == 201, await response.text()
    return await response.json()
