"""The sales overview across all events, computed from analytics' own facts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from evently.analytics import queries
from evently.analytics.figures import money, ratio


async def sales_overview(pool: asyncpg.Pool, top: int) -> dict[str, Any]:
    """Totals, revenue by currency, top events, sell-through and recent bookings."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        counts = await conn.fetchrow(queries.EVENT_COUNTS)
        sold = await conn.fetchrow(queries.TICKETS_SOLD)
        revenue = await conn.fetch(queries.REVENUE_BY_CURRENCY)
        sell_through = await conn.fetchrow(queries.SELL_THROUGH)
        top_rows = await conn.fetch(queries.TOP_EVENTS_BY_SALES, top)
        top_revenue = await conn.fetch(
            queries.REVENUE_BY_EVENT_AND_CURRENCY, [r["event_id"] for r in top_rows]
        )
        recent = await conn.fetchrow(queries.RECENT_BOOKINGS)
        as_of = await conn.fetchval(queries.CURRENT_TIME)
    revenue_by_event: dict[int, dict[str, str]] = defaultdict(dict)
    for row in top_revenue:
        revenue_by_event[row["event_id"]][row["currency"]] = money(row["amount"])
    return {
        "as_of": as_of,
        "events": {
            "on_sale": counts["on_sale"],
            "published": counts["published"],
            "sold_out": counts["sold_out"],
            "known": counts["known"],
        },
        "tickets_sold": sold["tickets_sold"],
        "bookings_confirmed": sold["bookings_confirmed"],
        "revenue_by_currency": {r["currency"]: money(r["amount"]) for r in revenue},
        "sell_through": {
            "capacity": sell_through["capacity"],
            "sold": sell_through["sold"],
            "rate": ratio(sell_through["sold"], sell_through["capacity"]),
        },
        "top_events": [
            {
                "event_id": row["event_id"],
                "name": row["name"],
                "status": row["status"],
                "tickets_sold": row["sold"],
                "bookings_confirmed": row["bookings"],
                "capacity": row["capacity"],
                "sell_through": ratio(row["sold"], row["capacity"]),
                "revenue_by_currency": revenue_by_event.get(row["event_id"], {}),
            }
            for row in top_rows
        ],
        "recent_bookings": {
            "last_hour": {
                "holds": recent["holds_1h"],
                "confirmed": recent["confirmed_1h"],
                "tickets_sold": recent["tickets_1h"],
            },
            "last_24h": {
                "holds": recent["holds_24h"],
                "confirmed": recent["confirmed_24h"],
                "tickets_sold": recent["tickets_24h"],
            },
        },
    }
