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

# The row as it is (locked until the transaction ends), read before UPSERT_EVENT so
# that its names can be taken out of the suggestion counts. $1: event id.
LOCK_DOCUMENT = """
SELECT searchable, name, venue_name, city FROM search.documents WHERE event_id = $1
FOR UPDATE"""

# $1-$15: the event; $16-$19: what LOCK_DOCUMENT read (all NULL if there was no row).
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
    RETURNING {DOCUMENT_COLUMNS}, xmax = 0 AS inserted
), vocabulary AS (
    -- Sorted, so concurrent writers insert shared new words in the same order.
    INSERT INTO search.words (word)
    SELECT DISTINCT w FROM upserted u, {_WORDS_OF_DOCUMENT} AS w
    WHERE u.searchable AND length(w) BETWEEN 3 AND 40
    ORDER BY w
    ON CONFLICT DO NOTHING
), suggestion_changes AS (
    -- Applied only: -1 for the names the row had, +1 for the names it has (netted).
    SELECT c.kind, c.name, c.city, sum(c.delta)::integer AS delta
    FROM upserted u
    CROSS JOIN LATERAL (VALUES
        ('event', $17::text, '', -1, coalesce($16::boolean, false)),
        ('venue', $18::text, $19::text, -1, coalesce($16::boolean, false) AND $18 <> ''),
        ('event', u.name, '', 1, u.searchable),
        ('venue', u.venue_name, u.city, 1, u.searchable AND u.venue_name <> '')
    ) AS c(kind, name, city, delta, counts)
    WHERE c.counts
    GROUP BY c.kind, c.name, c.city
    HAVING sum(c.delta) <> 0
), suggestions AS (
    -- Sorted, so concurrent writers lock shared names in the same order.
    INSERT INTO search.suggestions AS s (kind, name, city, events)
    SELECT c.kind, c.name, c.city, greatest(c.delta, 0) FROM suggestion_changes c
    ORDER BY c.kind, c.name, c.city
    ON CONFLICT (kind, name, city) DO UPDATE SET events = s.events + (
        SELECT c.delta FROM suggestion_changes c
        WHERE (c.kind, c.name, c.city) = (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.city))
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

# Suggestions read search.suggestions (one row per distinct name, with its exact count
# of searchable events; kept by UPSERT_EVENT): names with a word starting with each
# typed word (prefix tsquery on the GIN-indexed unstemmed words), names starting with
# the typed text first, then the names with the most events.
_SUGGEST_TEMPLATE = """
WITH events AS (
    SELECT s.name FROM search.suggestions s
    WHERE s.kind = 'event' AND s.events > 0 AND {match}
    ORDER BY (s.folded LIKE $2) DESC, s.events DESC, s.name
    LIMIT $3
), venues AS (
    SELECT s.name, s.city FROM search.suggestions s
    WHERE s.kind = 'venue' AND s.events > 0 AND {match}
    ORDER BY (s.folded LIKE $2) DESC, s.events DESC, s.name, s.city
    LIMIT $3
)
SELECT (SELECT coalesce(jsonb_agg(name), '[]') FROM events) AS events,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'city', city)), '[]')
        FROM venues) AS venues"""
# $1: prefix tsquery text ('jaz:*'), $2: LIKE pattern for "starts with", $3: limit.
SUGGEST = _SUGGEST_TEMPLATE.format(match="s.words @@ to_tsquery('pg_catalog.simple', $1)")
# When nothing starts with what was typed: names with a similar word (typos).
# $1: the folded typed text.
SUGGEST_SIMILAR = _SUGGEST_TEMPLATE.format(match="s.folded %> $1")
# The suggestion counts from scratch, after a bulk load that bypassed UPSERT_EVENT.
ALL_SUGGESTIONS_FROM_DOCUMENTS = """
INSERT INTO search.suggestions (kind, name, city, events)
SELECT 'event', name, '', count(*) FROM search.documents WHERE searchable GROUP BY name
UNION ALL
SELECT 'venue', venue_name, city, count(*) FROM search.documents
WHERE searchable AND venue_name <> '' GROUP BY venue_name, city
ON CONFLICT (kind, name, city) DO UPDATE SET events = EXCLUDED.events"""

REINDEX_TABLE = "REINDEX TABLE CONCURRENTLY search.documents"
ANALYZE_TABLE = "ANALYZE search.documents"


# Searches: two statements (statements/*.sql), filters passed as parameters (NULL when
# unused). Reads run with plan_cache_mode = force_custom_plan (PREPARE_READ), so each
# execution is planned for its own values and unused filters fold away. Both count
# the total and the facets with the same CTEs and columns (counted_*.sql), read up to
# their statement's read limit.
def _with_counting(statement: str, read_limit: str) -> str:
    return (
        statement.replace("{counted_samples}", _statement("counted_samples"))
        .replace("{counted_figures}", _statement("counted_figures"))
        .replace("{read_limit}", read_limit)
    )


_SEARCH_TEXT = _statement("search_text")
_TYPED = "websearch_to_tsquery('search.evently', $12)"
_FUZZY = "to_tsquery('search.evently', $12)"
# Whether the page comes from the bounded read (search_text.sql, page_from_sample):
# always for relevance, else when that read holds every match.
_SAMPLE_HOLDS_ALL = "(SELECT count(*) FROM total_sample) <= $13::bigint"
_PAGE_DEEP = "greatest($13::bigint, $9::bigint + $10::bigint)"


def _text_statement(fuzzy: bool, ranked: bool) -> str:
    statement = _with_counting(_SEARCH_TEXT, _PAGE_DEEP if ranked else "$13::bigint")
    return statement.replace("{text_query}", _FUZZY if fuzzy else _TYPED).replace(
        "{page_from_sample}", "true" if ranked else _SAMPLE_HOLDS_ALL
    )


# (fuzzy, ranked by relevance) -> the text statement.
SEARCH_TEXT = {
    (fuzzy, ranked): _text_statement(fuzzy, ranked)
    for fuzzy in (False, True)
    for ranked in (False, True)
}
SEARCH_LISTING = _with_counting(_statement("search_listing"), "$12::bigint")

# When a search finds nothing: do the words as typed match any event at all? If not,
# they are typos, and the search runs again with FUZZY_ALTERNATIVES. $1: the text.
# Run between TEXT_CHECK_BY_INDEX and PLAN_FREELY: planned as it is, the EXISTS expects
# a word it has no statistics for (a typo) in 0.3 % of the rows, so it scans the table
# to find the first one, and a typo has none: every row was read (0.2-2 s at a million
# events, most of the text searches slower than 50 ms). The GIN index answers in
# well under a millisecond.
TEXT_CHECK_BY_INDEX = "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"
PLAN_FREELY = "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT"
TEXT_MATCHES_ANY = """
SELECT EXISTS (SELECT 1 FROM search.documents d
               WHERE d.searchable
                 AND d.search_tsv @@ websearch_to_tsquery('search.evently', $1))"""
# Every known word within OpenSearch's AUTO fuzziness of a query word (3-5 letters: one
# edit, longer: two), found through the trigram index of search.words, as a to_tsquery
# text "w1 | w2 | ..." ('' when there is none). $1: the query's words.
FUZZY_ALTERNATIVES = """
SELECT coalesce(string_agg(DISTINCT w.word, ' | '), '')
FROM unnest($1::text[]) AS q(word)
JOIN search.words w ON w.word % q.word
 AND levenshtein(w.word, q.word) <= CASE WHEN length(q.word) <= 5 THEN 1 ELSE 2 END"""


# The planner's estimates of the rows each condition the text index can answer matches
# alone (the text, the city, the type, the date keys, the price keys), from the
# statistics of search_tsv and of the index's expressions: what GIN's intersection of
# them would cost (range_keys.choose). One EXPLAIN of a UNION ALL with a branch for
# each condition present, in that order. $1: the text (as typed, or the fuzzy
# alternatives), $2 city, $3 type, $4 date keys, $5 price keys.
_ESTIMATE_BRANCHES = {
    "city": "d.city_key = search.fold($2::text)",
    "type": "d.type = $3::text",
    "dates": "search.start_keys(d.starts_at) && $4::bigint[]",
    "prices": "search.price_keys(d.price) && $5::bigint[]",
}


def rows_estimates(fuzzy: bool, present: list[str]) -> str:
    """The EXPLAIN (FORMAT JSON) giving the estimates for the text and the ``present``
    conditions (names of _ESTIMATE_BRANCHES), one Append branch each, in that order."""
    text = (_FUZZY if fuzzy else _TYPED).replace("$12", "$1")
    conditions = [f"d.search_tsv @@ {text}", *(_ESTIMATE_BRANCHES[p] for p in present)]
    # Every parameter appears (in a branch that never runs), so each has its type.
    unused = (
        "$2::text IS NULL AND $3::text IS NULL AND $4::bigint[] IS NULL AND $5::bigint[] IS NULL"
    )
    branches = [f"SELECT FROM search.documents d WHERE d.searchable AND {c}" for c in conditions]
    return (
        "EXPLAIN (FORMAT JSON) "
        + " UNION ALL ".join(branches)
        + f" UNION ALL SELECT WHERE {unused} AND false"
    )


NO_RANGE_KEYS: tuple[list[int] | None, list[int] | None] = (None, None)


def search_arguments(
    query: SearchQuery,
    count_limit: int,
    fuzzy_text: str | None = None,
    keys: tuple[list[int] | None, list[int] | None] = NO_RANGE_KEYS,
) -> tuple[str, list[Any]]:
    """The statement answering ``query`` (total, both facets, one page of hits) and its
    parameters; the total and each facet count at most ``count_limit`` matches. With
    ``fuzzy_text`` (FUZZY_ALTERNATIVES' answer) the text is replaced by those words.
    ``keys``: the range keys of the dates and the prices (range_keys), or None each."""
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
    ranked = query.effective_sort == "relevance"
    if fuzzy_text is not None:
        return SEARCH_TEXT[True, ranked], [*arguments, fuzzy_text, count_limit, *keys]
    if query.q:
        return SEARCH_TEXT[False, ranked], [*arguments, query.text, count_limit, *keys]
    return SEARCH_LISTING, [*arguments, count_limit]
