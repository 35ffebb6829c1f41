"""Demo hint for `evently up --demo`: search is fed by the events outbox, so it loads
nothing itself; it says how many events are searchable and where to try it."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from evently.demo import SUGGESTED_PREFIX, SUGGESTED_SEARCH


async def load_demo(env: Mapping[str, str], base_url: str, report: list[str]) -> None:
    """Report the searchable events (the events demo's arrive through the outbox)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"{base_url}/api/v1/search", params={"limit": "1"}) as response,
    ):
        total = (await response.json())["total"] if response.status == 200 else "?"
    report.append(
        f"  search   {total} event(s) searchable so far; try "
        f"{base_url}/api/v1/search?q={SUGGESTED_SEARCH} and "
        f"{base_url}/api/v1/search/suggest?q={SUGGESTED_PREFIX}"
    )
