"""Demo data for `evently up --demo`: loaded once, through the real services."""

from __future__ import annotations

from collections.abc import Mapping


async def load_demo(env: Mapping[str, str], base_url: str) -> str:
    """Load demo data (idempotent) and return a report of what exists and how to log in."""
    return "Demo data: nothing to load yet."
