"""Every SQL statement of the search service (the two search statements, the longest,
are in ``statements/``)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from evently.core.locks import LockKey
from evently.search.models import SearchQuery


def _statement(name: str) -> str:
    return resources.files("evently.search").joinpath(f"statements/{name}.sql").read_text()


# Index writers hold this shared; a reindex takes it exclusively for two short moments
# (its snapshot, then its catch-up and alias swap), so no write slips between them.
INDEX_WRITES_LOCK = LockKey.of("search-index-writes", 0)
# Held (session-level, try-only) for a whole reindex: one reindex at a time.
REINDEX_RUN_LOCK = LockKey.of("search-reindex-run", 0)

# Suggestions tolerate typos: a typed word matches a name word whose trigram
# word_similarity reaches this ("jaz" ~ "jazz" 0.75, "concrt" ~ "concert" 0.57).
SUGGEST_SIMILARITY = 0.5

DOCUMENT_COLUMNS = """event_id, event_version, inventory_version, searchable, status, name,
    description, type, starts_at, ends_at, price, currency, venue_id, venue_name, city,
    seats_available, on_sale, sold_out, available"""

_WORDS_OF_DOCUMENT = """regexp_split_to_table(search.fold(
        u.name || ' ' || u.venue_name || ' ' || u.city || ' ' || u.description),
        '[^[:alnum:]]+')"""

UPSERT_EVENT = f"""
WITH upserted AS (
    INSERT INTO search.documents AS d (
        event_id, event_version, status, searchable, name, description, type, starts_at,
        ends_at, price, currency, capacity, venue_id, venue_name, city, seats_available)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $12)
    ON CONFLICT (event_id) DO UPDATE SET
        event_version = EXCLUDED.event_version,
        status = EXCLUDED.status,
        searchable = EXCLUDED.searchable,
        name = EXCLUDED.name,
        description = EXCLUDED.description,
        type = EXCLUDED.type,
        starts_at = EXCLUDED.starts_at,
        ends_at = EXCLUDED.ends_at,
        price = EXCLUDED.price,
        currency = EXCLUDED.currency,
        capacity = EXCLUDED.capacity,
        venue_id = EXCLUDED.venue_id,
        venue_name = EXCLUDED.venue_name,
        city = EXCLUDED.city,
        -- Until bookings reports availability, every seat of the capacity is free.
        seats_available = CASE WHEN d.inventory_version = 0 THEN EXCLUDED.capacity
                               ELSE d.seats_available END,
        change_seq = nextval('search.document_changes'),
        updated_at = now()
    WHERE d.event_version < EXCLUDED.event_version
    RETURNING {DOCUMENT_COLUMNS}
), vocabulary AS (
    -- Sorted, so concurrent writers insert shared new words in the same order.
    INSERT INTO search.words (word)
    SELECT DISTINCT w FROM upserted u, {_WORDS_OF_DOCUMENT} AS w
    WHERE u.searchable AND length(w) BETWEEN 3 AND 40
    ORDER BY w
    ON CONFLICT DO NOTHING
)
SELECT * FROM upserted"""

UPSERT_AVAILABILITY = f"""
INSERT INTO search.documents AS d (
    event_id, inventory_version, seats_available, on_sale, sold_out)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (event_id) DO UPDATE SET
    inventory_version = EXCLUDED.inventory_version,
    seats_available = EXCLUDED.seats_available,
    on_sale = EXCLUDED.on_sale,
    sold_out = EXCLUDED.sold_out,
    change_seq = nextval('search.document_changes'),
    updated_at = now()
WHERE d.inventory_version < EXCLUDED.inventory_version
RETURNING {DOCUMENT_COLUMNS}"""

TAKE_INDEX_WRITES_SHARED = (
    "SELECT set_config('lock_timeout', $3, true), pg_advisory_xact_lock_shared($1, $2)"
)
TAKE_INDEX_WRITES_EXCLUSIVE = (
    "SELECT set_config('lock_timeout', $3, true), pg_advisory_xact_lock($1, $2)"
)
TRY_REINDEX_RUN_LOCK = "SELECT pg_try_advisory_lock($1, $2)"
RELEASE_REINDEX_RUN_LOCK = "SELECT pg_advisory_unlock($1, $2)"
ALLOW_LONG_TRANSACTION = "SET LOCAL idle_in_transaction_session_timeout = '15min'"

LAST_CHANGE = "SELECT coalesce(max(change_seq), 0) FROM search.documents"
SEARCHABLE_DOCUMENTS = f"""
SELECT {DOCUMENT_COLUMNS} FROM search.documents WHERE searchable ORDER BY event_id"""
CHANGED_SINCE = f"""
SELECT {DOCUMENT_COLUMNS} FROM search.documents WHERE change_seq > $1 ORDER BY change_seq"""
COUNT_SEARCHABLE = "SELECT count(*) FROM search.documents WHERE searchable"

PREPARE_READ = (
    f"SET LOCAL pg_trgm.word_similarity_threshold = {SUGGEST_SIMILARITY}; "
    # Statements differ in shape per filter combination, but not per value: plan each
    # execution for its values (a fuzzy word list, a narrow date range...).
    "SET LOCAL plan_cache_mode = force_custom_plan; "
    # Matches are counted and ranked in memory; enough for 100,000 without spilling.
    "SET LOCAL work_mem = '32MB'"
)
ALL_WORDS_FROM_DOCUMENTS = f"""
INSERT INTO search.words (word)
SELECT DISTINCT w FROM search.documents u, {_WORDS_OF_DOCUMENT} AS w
WHERE u.searchable AND length(w) BETWEEN 3 AND 40
ON CONFLICT DO NOTHING"""

# Suggestions: names with a word starting with each typed word (prefix tsquery on the
# GIN-indexed unstemmed words), names starting with the typed text first, then the names
# with the most events. Grouping is bounded to the first SUGGEST_CANDIDATES rows.
SUGGEST_CANDIDATES = 5000
_SUGGEST_TEMPLATE = """
WITH events AS (
    SELECT n.name FROM (
        SELECT d.name, d.name_folded, count(*) AS events FROM (
            SELECT name, name_folded FROM search.documents
            WHERE searchable AND {name_match} LIMIT {candidates}) d
        GROUP BY d.name, d.name_folded) n
    ORDER BY (n.name_folded LIKE $2) DESC, n.events DESC, n.name
    LIMIT $3
), venues AS (
    SELECT v.venue_name, v.city FROM (
        SELECT d.venue_name, d.venue_folded, d.city, count(*) AS events FROM (
            SELECT venue_name, venue_folded, city FROM search.documents
            WHERE searchable AND venue_name <> '' AND {venue_match} LIMIT {candidates}) d
        GROUP BY d.venue_name, d.venue_folded, d.city) v
    ORDER BY (v.venue_folded LIKE $2) DESC, v.events DESC, v.venue_name, v.city
    LIMIT $3
)
SELECT (SELECT coalesce(jsonb_agg(name), '[]') FROM events) AS events,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', venue_name, 'city', city)), '[]')
        FROM venues) AS venues"""
# $1: prefix tsquery text ('jaz:*'), $2: LIKE pattern for "starts with", $3: limit.
SUGGEST = _SUGGEST_TEMPLATE.format(
    name_match="name_words @@ to_tsquery('pg_catalog.simple', $1)",
    venue_match="venue_words @@ to_tsquery('pg_catalog.simple', $1)",
    candidates=SUGGEST_CANDIDATES,
)
# When nothing starts with what was typed: names with a similar word (typos).
# $1: the folded typed text.
SUGGEST_SIMILAR = _SUGGEST_TEMPLATE.format(
    name_match="name_folded %> $1", venue_match="venue_folded %> $1", candidates=500
)

REINDEX_TABLE = "REINDEX TABLE CONCURRENTLY search.documents"
ANALYZE_TABLE = "ANALYZE search.documents"

# Searches: two static statements (statements/*.sql), filters passed as parameters
# (NULL when unused). Reads run with plan_cache_mode = force_custom_plan (PREPARE_READ),
# so each execution is planned for its own values and unused filters fold away.
SEARCH_TEXT = _statement("search_text")
SEARCH_LISTING = _statement("search_listing")


def search_arguments(query: SearchQuery) -> tuple[str, list[Any]]:
    """The statement answering ``query`` (total, both facets, one page of hits) and its
    parameters."""
    arguments: list[Any] = [
        query.starts_from,
        query.starts_before,
        query.min_price,
        query.max_price,
        query.available,
        query.type or None,
        query.city or None,
        query.effective_sort,
        query.limit,
        query.offset,
        query.upcoming_only,
    ]
    if query.q:
        return SEARCH_TEXT, [*arguments, query.text, query.fuzzy_words]
    return SEARCH_LISTING, arguments
