"""The OpenSearch backend: PostgreSQL's document table mirrored into an index.

Writes happen inside the inbox transaction: the document table decides whether a
message is newer (and merges event and availability), then the merged document goes
to OpenSearch through the alias with an external version. If OpenSearch fails, the
transaction rolls back, the message stays unacknowledged, and the producer's outbox
delivers it again later: nothing is lost while OpenSearch is down.

A reindex builds ``<alias>-<timestamp>`` from the document table and swaps the alias
atomically; see ``reindex`` and docs/search.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import (
    ConflictError,
    ConnectionError,
    NotFoundError,
    TransportError,
)
from prometheus_client import Counter, Histogram

from evently.search import queries
from evently.search.backend_postgres import PostgresBackend
from evently.search.errors import ReindexBusy, SearchUnavailable
from evently.search.highlights import highlights_from_marked
from evently.search.models import (
    EventChange,
    Facets,
    InventoryChange,
    ReindexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
    Suggestions,
    Venue,
    VenueSuggestion,
)
from evently.search.opensearch_index import (
    bulk_actions,
    document_body,
    index_template,
    search_body,
    suggest_body,
    text_only_body,
)
from evently.search.settings import SearchSettings

log = logging.getLogger("evently.search.opensearch")

OPENSEARCH_ERRORS = Counter(
    "evently_search_opensearch_errors_total",
    "OpenSearch requests that failed (unreachable, timed out or 5xx), by operation.",
    ["operation"],
)
REINDEX_DURATION = Histogram(
    "evently_search_reindex_duration_seconds",
    "Time to rebuild the search index and swap it in.",
    buckets=(1, 5, 15, 60, 300, 900, 3600),
)


class OpenSearchBackend:
    """Searches an OpenSearch index kept equal to ``search.documents``."""

    name = "opensearch"

    def __init__(self, settings: SearchSettings, pool: asyncpg.Pool, store: PostgresBackend):
        self.settings = settings
        self.pool = pool
        self.store = store
        self.alias = settings.opensearch_index
        self.client = AsyncOpenSearch(
            hosts=[settings.opensearch_url],
            timeout=settings.opensearch_timeout_s,
            max_retries=0,
            retry_on_timeout=False,
        )
        self._refresh = {"false": False, "true": True, "wait_for": "wait_for"}[
            settings.opensearch_refresh
        ]
        self._maintenance: asyncio.Task[None] | None = None

    # ---- writes (inside the inbox transaction) ----

    async def index_event(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        await self._hold_writes_lock(conn)
        doc = await self.store.upsert_event(conn, event)
        if doc is None:
            return False
        await self._write(doc)
        return True

    async def remove(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        # The document is hidden: its tombstone replaces it at the newer version.
        return await self.index_event(conn, event)

    async def apply_availability(
        self, conn: asyncpg.Connection, inventory: InventoryChange
    ) -> bool:
        await self._hold_writes_lock(conn)
        doc = await self.store.upsert_availability(conn, inventory)
        if doc is None:
            return False
        if doc.searchable:  # a hidden document's tombstone needs no availability
            await self._write(doc)
        return True

    async def _hold_writes_lock(self, conn: asyncpg.Connection) -> None:
        key = queries.INDEX_WRITES_LOCK
        timeout = f"{self.settings.index_write_lock_timeout_ms}ms"
        await conn.execute(queries.TAKE_INDEX_WRITES_SHARED, key.namespace, key.ident, timeout)

    async def _write(self, doc: SearchDocument) -> None:
        """Write ``doc`` (or its tombstone) at its external version; equal or newer wins."""
        # A conflict means the index already holds this version or a newer one.
        async with self._calling("write"):
            with contextlib.suppress(ConflictError):
                await self.client.index(
                    index=self.alias,
                    id=str(doc.event_id),
                    body=document_body(doc),
                    version=doc.external_version,
                    version_type="external",
                    refresh=self._refresh,
                    # Never let a write auto-create an index in place of a missing alias.
                    params={"require_alias": "true"},
                )

    # ---- reads ----

    async def search(self, query: SearchQuery) -> SearchResults:
        # As the PostgreSQL backend: relevance counts at least a page's worth.
        limit = self.settings.count_limit
        if query.effective_sort == "relevance":
            limit = max(limit, query.offset + query.limit)
        async with self._calling("search"):
            result = await self.client.search(
                index=self.alias, body=search_body(query, count_limit=limit)
            )
            if query.q and result["hits"]["total"]["value"] == 0:
                # Nothing with these filters. Only if the words match no event at all
                # (a typo, not filters excluding everything) search again, fuzzily.
                typed = await self.client.count(index=self.alias, body=text_only_body(query))
                if typed["count"] == 0:
                    result = await self.client.search(
                        index=self.alias, body=search_body(query, fuzzy=True, count_limit=limit)
                    )
        hits = [_hit(raw) for raw in result["hits"]["hits"]]
        aggs = result["aggregations"]
        total = result["hits"]["total"]
        return SearchResults(
            total=min(total["value"], limit),
            total_is_exact=total["relation"] == "eq",
            page=query.page,
            limit=query.limit,
            sort=query.effective_sort,
            hits=hits,
            facets=Facets(
                type=_buckets(aggs["type"]["values"]["buckets"]),
                city=_buckets(aggs["city"]["values"]["buckets"]),
            ),
            facets_are_exact=True,  # aggregations count every match in the index
        )

    async def suggest(self, prefix: str, limit: int) -> Suggestions:
        async with self._calling("suggest"):
            events, venues = await asyncio.gather(
                self.client.search(
                    index=self.alias, body=suggest_body("name", "name.raw", prefix, limit)
                ),
                self.client.search(
                    index=self.alias,
                    body=suggest_body("venue_name", "venue_name.raw", prefix, limit),
                ),
            )
        return Suggestions(
            q=prefix,
            events=[h["_source"]["name"] for h in events["hits"]["hits"]],
            venues=[
                VenueSuggestion(name=h["_source"]["venue_name"], city=h["_source"]["city"])
                for h in venues["hits"]["hits"]
                if h["_source"].get("venue_name")
            ],
        )

    async def health(self) -> str | None:
        try:
            health = await self.client.cluster.health(request_timeout=2)
            if health.get("status") == "red":
                return "opensearch cluster status is red"
            if not await self.client.indices.exists_alias(name=self.alias, request_timeout=2):
                return f"opensearch alias {self.alias} is missing (being rebuilt)"
        except (ConnectionError, TransportError) as exc:
            return f"opensearch unreachable: {type(exc).__name__}"
        return None

    # ---- lifecycle ----

    async def start(self) -> None:
        """Check the index in the background: never block start-up on OpenSearch (a first
        build may take minutes); /readyz says when searching works."""
        self._maintenance = asyncio.create_task(self._maintain(), name="search-index-check")

    async def close(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        await self.client.close()

    async def _maintain(self) -> None:
        while True:
            await self.ensure_index()
            await asyncio.sleep(self.settings.opensearch_check_interval_s)

    async def ensure_index(self) -> bool:
        """Install the template; build the index from PostgreSQL if the alias is missing.

        Returns whether the alias exists afterwards. Never raises: OpenSearch being down
        is reported by ``health`` and retried by the next check.
        """
        try:
            await self.client.indices.put_index_template(
                name=self.alias, body=index_template(self.alias, self.settings.opensearch_replicas)
            )
            if await self.client.indices.exists_alias(name=self.alias):
                return True
            log.warning("search alias %s is missing; building it from PostgreSQL", self.alias)
            await self.reindex()
            return True
        except ReindexBusy:
            return False
        except Exception as exc:
            log.warning("cannot prepare search index %s: %s", self.alias, exc)
            return False

    # ---- reindex ----

    async def reindex(self) -> ReindexReport:
        """Build a new index from ``search.documents`` and swap the alias atomically.

        1. Under the exclusive writes lock (momentarily: no index write is in flight),
           open a repeatable-read snapshot and note the last change number.
        2. Copy that snapshot into the new index while writes continue to the old one.
        3. Under the exclusive lock again, copy what changed since the snapshot, then
           swap the alias in one request. Writes resume, now into the new index.
        Searches use the old index until the swap, so they never see a gap.
        """
        started = time.perf_counter()
        async with self._reindex_turn():
            await self.client.indices.put_index_template(
                name=self.alias, body=index_template(self.alias, self.settings.opensearch_replicas)
            )
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            new_index = f"{self.alias}-{stamp}-{uuid.uuid4().hex[:6]}"
            await self.client.indices.create(index=new_index)
            try:
                copied, watermark = await self._copy_snapshot(new_index)
                caught_up, previous = await self._catch_up_and_swap(new_index, watermark)
            except BaseException:
                await self._drop_index(new_index)
                raise
        for index in previous:
            await self._drop_index(index)
        seconds = time.perf_counter() - started
        REINDEX_DURATION.observe(seconds)
        return ReindexReport(
            backend=self.name,
            index=new_index,
            previous=previous,
            documents=copied,
            caught_up=caught_up,
            seconds=round(seconds, 3),
        )

    @asynccontextmanager
    async def _reindex_turn(self) -> AsyncIterator[None]:
        key = queries.REINDEX_RUN_LOCK
        async with self.pool.acquire() as conn:
            if not await conn.fetchval(queries.TRY_REINDEX_RUN_LOCK, key.namespace, key.ident):
                raise ReindexBusy("another reindex is running")
            try:
                yield
            finally:
                await conn.fetchval(queries.RELEASE_REINDEX_RUN_LOCK, key.namespace, key.ident)

    async def _take_writes_exclusively(self, conn: asyncpg.Connection) -> None:
        key = queries.INDEX_WRITES_LOCK
        await conn.execute(queries.ALLOW_LONG_TRANSACTION)
        await conn.execute(queries.TAKE_INDEX_WRITES_EXCLUSIVE, key.namespace, key.ident, "60s")

    async def _copy_snapshot(self, index: str) -> tuple[int, int]:
        """Copy every searchable document as of a consistent snapshot; returns (count, seq)."""
        copied = 0
        async with self.pool.acquire() as lock_conn, self.pool.acquire() as snap_conn:
            snapshot = snap_conn.transaction(isolation="repeatable_read", readonly=True)
            async with lock_conn.transaction():
                await self._take_writes_exclusively(lock_conn)
                await snapshot.start()
                await snap_conn.execute(queries.ALLOW_LONG_TRANSACTION)
                watermark = await snap_conn.fetchval(queries.LAST_CHANGE)  # fixes the snapshot
            try:
                batch: list[SearchDocument] = []
                async for row in snap_conn.cursor(
                    queries.SEARCHABLE_DOCUMENTS, prefetch=self.settings.reindex_batch_size
                ):
                    batch.append(SearchDocument.model_validate(dict(row)))
                    if len(batch) >= self.settings.reindex_batch_size:
                        copied += await self._bulk(index, batch)
                        batch = []
                if batch:
                    copied += await self._bulk(index, batch)
            finally:
                await snapshot.rollback()
        return copied, watermark

    async def _catch_up_and_swap(self, index: str, watermark: int) -> tuple[int, list[str]]:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._take_writes_exclusively(conn)
            changed = [
                SearchDocument.model_validate(dict(row))
                for row in await conn.fetch(queries.CHANGED_SINCE, watermark)
            ]
            for start in range(0, len(changed), self.settings.reindex_batch_size):
                await self._bulk(index, changed[start : start + self.settings.reindex_batch_size])
            await self.client.indices.refresh(index=index)
            previous = await self._indices_behind_alias()
            actions: list[dict[str, Any]] = [
                {"remove": {"index": old, "alias": self.alias}} for old in previous
            ]
            actions.append({"add": {"index": index, "alias": self.alias, "is_write_index": True}})
            await self.client.indices.update_aliases(body={"actions": actions})
        return len(changed), previous

    async def _indices_behind_alias(self) -> list[str]:
        try:
            return sorted(await self.client.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    async def _bulk(self, index: str, docs: list[SearchDocument]) -> int:
        """Write ``docs`` at their versions; version conflicts mean newer data is there."""
        if not docs:
            return 0
        result = await self.client.bulk(body=bulk_actions(index, docs))
        if result.get("errors"):
            for item in result["items"]:
                outcome = next(iter(item.values()))
                status = outcome.get("status", 500)
                if status >= 300 and status not in (404, 409):
                    raise RuntimeError(f"bulk write to {index} failed: {outcome.get('error')}")
        return len(docs)

    async def _drop_index(self, index: str) -> None:
        try:
            await self.client.indices.delete(index=index)
        except Exception as exc:  # best effort: a leftover index costs space, not correctness
            log.warning("could not delete search index %s: %s", index, exc)

    @asynccontextmanager
    async def _calling(self, operation: str) -> AsyncIterator[None]:
        """Turn "OpenSearch cannot answer" into ``SearchUnavailable`` (503)."""
        try:
            yield
        except ConnectionError as exc:  # includes timeouts
            OPENSEARCH_ERRORS.labels(operation).inc()
            raise SearchUnavailable("The search engine is unreachable; try again shortly.") from exc
        except NotFoundError as exc:
            OPENSEARCH_ERRORS.labels(operation).inc()
            raise SearchUnavailable(f"The search index {self.alias} is being rebuilt.") from exc
        except TransportError as exc:
            if isinstance(exc.status_code, int) and exc.status_code < 500:
                raise
            OPENSEARCH_ERRORS.labels(operation).inc()
            raise SearchUnavailable("The search engine failed; try again shortly.") from exc


def _buckets(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": b["key"], "count": b["doc_count"]} for b in buckets]


def _hit(raw: dict[str, Any]) -> SearchHit:
    source = raw["_source"]
    marked = raw.get("highlight", {})

    def first(field: str, fallback: str) -> str:
        return marked[field][0] if field in marked else fallback

    venue = source.get("venue_name") or ""
    city = source.get("city") or ""
    highlights = highlights_from_marked(
        {
            "name": first("name", ""),
            "venue": (
                f"{first('venue_name', venue)}, {first('city.text', city)}"
                if "venue_name" in marked or "city.text" in marked
                else None
            ),
            "description": " … ".join(marked["description"]) if "description" in marked else None,
        }
    )
    return SearchHit(
        id=source["event_id"],
        name=source["name"],
        description=source.get("description") or "",
        type=source["type"],
        starts_at=source.get("starts_at"),
        ends_at=source.get("ends_at"),
        price=source.get("price_text"),
        currency=source.get("currency"),
        venue=Venue(id=source.get("venue_id"), name=venue, city=city),
        available=source["available"],
        sold_out=source["sold_out"],
        seats_available=source.get("seats_available"),
        highlights=highlights,
    )
