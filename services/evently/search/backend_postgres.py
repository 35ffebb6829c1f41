"""The PostgreSQL backend: the document table is the index (tsvector + trigrams)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from evently.search import queries, range_keys
from evently.search.errors import SearchUnavailable
from evently.search.highlights import highlights_from_marked
from evently.search.models import (
    DEFAULT_COUNT_LIMIT,
    EventChange,
    Facets,
    InventoryChange,
    ReindexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
    Suggestions,
    fold,
)

# Failures that mean "cannot search right now", not "this request is wrong".
UNAVAILABLE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.QueryCanceledError,
    asyncpg.CannotConnectNowError,
)


class ConcurrentFirstWrite(RuntimeError):
    """Two transactions wrote an event's first row at once; the later one retries."""


class PostgresBackend:
    """Searches ``search.documents`` with websearch_to_tsquery, pg_trgm and ts_headline."""

    name = "postgres"

    def __init__(self, pool: asyncpg.Pool, count_limit: int = DEFAULT_COUNT_LIMIT) -> None:
        self.pool = pool
        self.count_limit = count_limit

    # ---- the document table, shared with the OpenSearch backend ----

    async def upsert_event(
        self, conn: asyncpg.Connection, event: EventChange
    ) -> SearchDocument | None:
        """Store a newer event version; returns the merged document, or None if stale.

        The suggestion counts change in the same statement: the row is locked and read
        first, so its previous names are known.
        """
        previous = await conn.fetchrow(queries.LOCK_DOCUMENT, event.id)
        row = await conn.fetchrow(
            queries.UPSERT_EVENT,
            event.id,
            event.version,
            event.status,
            event.searchable,
            event.name,
            event.description or "",
            event.type,
            event.starts_at,
            event.ends_at,
            event.price,
            event.currency,
            event.capacity,
            event.venue.id,
            event.venue.name,
            event.venue.city,
            *(previous.values() if previous else (None, None, None, None)),
        )
        if row is None:
            return None
        document = dict(row)
        if previous is None and not document.pop("inserted"):
            # Another transaction inserted the row after our look: its names were not
            # taken out. Roll back; the outbox delivers the message again.
            raise ConcurrentFirstWrite(f"event {event.id} was first written concurrently")
        document.pop("inserted", None)
        return SearchDocument.model_validate(document)

    async def upsert_availability(
        self, conn: asyncpg.Connection, inventory: InventoryChange
    ) -> SearchDocument | None:
        """Store newer availability; returns the merged document, or None if stale.

        Availability may arrive before the event itself: the row then waits, not
        searchable, for its event.changed.
        """
        row = await conn.fetchrow(
            queries.UPSERT_AVAILABILITY,
            inventory.event_id,
            inventory.version,
            inventory.available,
            inventory.on_sale,
            inventory.sold_out,
        )
        return None if row is None else SearchDocument.model_validate(dict(row))

    # ---- SearchBackend ----

    async def index_event(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        return await self.upsert_event(conn, event) is not None

    async def remove(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        # The row stays as a tombstone with its version, so an older "published"
        # message arriving late cannot bring the event back.
        return await self.upsert_event(conn, event) is not None

    async def apply_availability(
        self, conn: asyncpg.Connection, inventory: InventoryChange
    ) -> bool:
        return await self.upsert_availability(conn, inventory) is not None

    async def search(self, query: SearchQuery) -> SearchResults:
        async with self._reading() as conn:
            keys = await self._range_keys(conn, query, None)
            sql, params = queries.search_arguments(query, self.count_limit, None, keys)
            row = await conn.fetchrow(sql, *params)
            if query.q and row["total"] == 0 and not await self._matches_any(conn, query.text):
                # The words as typed match no event at all (not merely none that passes
                # the filters): typos. Search again for the known words near them.
                alternatives = await conn.fetchval(queries.FUZZY_ALTERNATIVES, query.fuzzy_words)
                keys = await self._range_keys(conn, query, alternatives)
                sql, params = queries.search_arguments(query, self.count_limit, alternatives, keys)
                row = await conn.fetchrow(sql, *params)
        hits = []
        for hit in row["hits"]:
            hit["highlights"] = highlights_from_marked(hit.get("highlights") or {})
            hits.append(SearchHit.model_validate(hit))
        return SearchResults(
            total=row["total"],
            total_is_exact=row["total_is_exact"],
            page=query.page,
            limit=query.limit,
            sort=query.effective_sort,
            hits=hits,
            facets=Facets(type=row["type_facet"], city=row["city_facet"]),
            facets_are_exact=row["facets_are_exact"],
        )

    @staticmethod
    async def _range_keys(
        conn: asyncpg.Connection, query: SearchQuery, fuzzy_text: str | None
    ) -> tuple[list[int] | None, list[int] | None]:
        """The text index's keys for the query's date and price ranges (range_keys),
        those worth intersecting by the planner's estimates (range_keys.choose), or
        none without text."""
        dates = range_keys.start_keys(query.starts_from, query.starts_before)
        prices = range_keys.price_keys(query.min_price, query.max_price)
        if not query.q or (dates is None and prices is None):
            return queries.NO_RANGE_KEYS
        values = {"city": query.city, "type": query.type, "dates": dates, "prices": prices}
        present = [name for name, value in values.items() if value is not None]
        explained = await conn.fetchval(
            queries.rows_estimates(fuzzy_text is not None, present),
            query.text if fuzzy_text is None else fuzzy_text,
            query.city,
            query.type,
            dates,
            prices,
        )
        # The app's pools decode json (core/db.py); a bare connection returns the text.
        plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
        branches = plan["Plans"] if plan["Node Type"] == "Append" else [plan]
        estimates = dict(zip(["text", *present], (b["Plan Rows"] for b in branches), strict=False))
        rows = [estimates[name] for name in ("text", "city", "type") if name in estimates]
        return range_keys.choose(
            rows, dates, estimates.get("dates", 0), prices, estimates.get("prices", 0)
        )

    @staticmethod
    async def _matches_any(conn: asyncpg.Connection, text: str) -> bool:
        """Whether the words as typed match any searchable event (filters aside),
        asked of the text index rather than the table (queries.TEXT_CHECK_BY_INDEX)."""
        await conn.execute(queries.TEXT_CHECK_BY_INDEX)
        try:
            return bool(await conn.fetchval(queries.TEXT_MATCHES_ANY, text))
        finally:
            await conn.execute(queries.PLAN_FREELY)

    async def suggest(self, prefix: str, limit: int) -> Suggestions:
        folded = fold(prefix)
        words = re.findall(r"\w+", folded)
        if not words:
            return Suggestions(q=prefix, events=[], venues=[])
        prefixes = " & ".join(f"{word}:*" for word in words)
        starts_with = re.sub(r"([\\%_])", r"\\\1", folded) + "%"
        async with self._reading() as conn:
            row = await conn.fetchrow(queries.SUGGEST, prefixes, starts_with, limit)
            if not row["events"] and not row["venues"] and len(folded) >= 4:
                row = await conn.fetchrow(queries.SUGGEST_SIMILAR, folded, starts_with, limit)
        return Suggestions(q=prefix, events=row["events"], venues=row["venues"])

    async def health(self) -> str | None:
        return None  # the database checks of /readyz already cover this backend

    async def reindex(self) -> ReindexReport:
        """Rebuild the table's indexes concurrently (searches keep running) and analyze."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            await conn.execute("SET statement_timeout = 0")
            try:
                await conn.execute(queries.REINDEX_TABLE)
                await conn.execute(queries.ANALYZE_TABLE)
                documents = await conn.fetchval(queries.COUNT_SEARCHABLE)
            finally:
                await conn.execute("RESET statement_timeout")
        return ReindexReport(
            backend=self.name,
            index="search.documents",
            documents=documents,
            seconds=round(time.perf_counter() - started, 3),
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn, conn.transaction(readonly=True):
                await conn.execute(queries.PREPARE_READ)
                yield conn
        except UNAVAILABLE_ERRORS as exc:
            raise SearchUnavailable(
                f"The search database cannot answer: {type(exc).__name__}"
            ) from exc
