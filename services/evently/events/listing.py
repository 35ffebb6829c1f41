"""Lists of events: the public list (published only) and the admin list (everything)."""

from __future__ import annotations

from typing import Any

import asyncpg

from evently.events import queries
from evently.events.models import (
    AdminEventListQuery,
    AdminEventPage,
    EventListQuery,
    EventPage,
)
from evently.events.repository import event_from_row


async def published_events(conn: asyncpg.Connection, query: EventListQuery) -> EventPage:
    """One page of published events matching ``query``, with the total that match."""
    filters = {"published": None, **_filters(query)}
    if query.upcoming_only:
        filters["upcoming"] = None
    rows, total = await _page(conn, query, filters)
    items = [event_from_row(row).public() for row in rows]
    return EventPage(items=items, total=total, page=query.page, limit=query.limit)


async def all_events(conn: asyncpg.Connection, query: AdminEventListQuery) -> AdminEventPage:
    """One page of events in any status (drafts and cancelled included)."""
    filters = _filters(query)
    if query.status is not None:
        filters["status"] = query.status
    if query.managed is not None:
        filters["managed"] = query.managed
    rows, total = await _page(conn, query, filters)
    items = [event_from_row(row) for row in rows]
    return AdminEventPage(items=items, total=total, page=query.page, limit=query.limit)


def _filters(query: EventListQuery) -> dict[str, Any]:
    """The filters ``query`` sets, by their name in ``queries.LIST_CONDITIONS``."""
    values = {
        "city": query.city,
        "type": query.type,
        "venue_id": query.venue_id,
        "from": query.from_,
        "to": query.to,
        "min_price": query.min_price,
        "max_price": query.max_price,
        "currency": query.currency,
        "available": query.available,
    }
    return {name: value for name, value in values.items() if value is not None}


async def _page(
    conn: asyncpg.Connection, query: EventListQuery, filters: dict[str, Any]
) -> tuple[list[asyncpg.Record], int]:
    conditions: list[str] = []
    args: list[Any] = []
    for name, value in filters.items():
        template = queries.LIST_CONDITIONS[name]
        if "{}" in template:
            args.append(value)
            template = template.format(f"${len(args)}")
        conditions.append(template)
    page_sql, count_sql = queries.list_events_sql(conditions, query.sort, len(args))
    offset = (query.page - 1) * query.limit
    # One snapshot for both, so the total agrees with the page.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        total = await conn.fetchval(count_sql, *args)
        rows = await conn.fetch(page_sql, *args, query.limit, offset) if offset < total else []
    return rows, total
