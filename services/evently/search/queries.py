"""Every SQL statement of the search service.

Searches combine fixed fragments (below) according to which filters a request uses, so
each combination is its own prepared statement with a plan fit for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evently.core.locks import LockKey
from evently.search.models import MARK_END, MARK_START, SearchQuery

# Index writers hold this shared; a reindex takes it exclusively for two short moments
# (its snapshot, then its catch-up and alias swap), so no write slips between them.
INDEX_WRITES_LOCK = LockKey.of("search-index-writes", 0)
# Held (session-level, try-only) for a whole reindex: one reindex at a time.
REINDEX_RUN_LOCK = LockKey.of("search-reindex-run", 0)

# Suggestions tolerate typos: a typed word matches a name word whose trigram
# word_similarity reaches this ("jaz" ~ "jazz" 0.75, "concrt" ~ "concert" 0.57).
SUGGEST_SIMILARITY = 0.5
FACET_SIZE = 50  # values per facet, most frequent first

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

_HIT_FIELDS = """jsonb_build_object(
    'id', d.event_id, 'name', d.name, 'description', d.description, 'type', d.type,
    'starts_at', d.starts_at, 'ends_at', d.ends_at, 'price', d.price::text,
    'currency', d.currency,
    'venue', jsonb_build_object('id', d.venue_id, 'name', d.venue_name, 'city', d.city),
    'available', d.available, 'sold_out', d.sold_out, 'seats_available', d.seats_available
    {highlights})"""

_HEADLINE_ALL = f"'StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true'"
_HEADLINE_FRAGMENTS = (
    f"'StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MaxWords=20, MinWords=8, "
    'FragmentDelimiter=" … "\''
)
_HIGHLIGHTS = f""", 'highlights', jsonb_build_object(
        'name', ts_headline('search.evently', d.name, t.tsq, {_HEADLINE_ALL}),
        'venue', ts_headline('search.evently', d.venue_name || ', ' || d.city, t.tsq,
                             {_HEADLINE_ALL}),
        'description', ts_headline('search.evently', d.description, t.tsq,
                                   {_HEADLINE_FRAGMENTS}))"""

# Must be written exactly as documents_text_idx is defined, for the index to be used.
DOCUMENT_TEXT = "(d.title_tsv || setweight(to_tsvector('search.evently', d.description), 'C'))"

# Typo tolerance, used only when the words as typed match no event: each query word may
# be any known word within OpenSearch's AUTO fuzziness (3-5 letters: one edit, longer:
# two), found through the trigram index of search.words; any of them may match.
_FUZZY_QUERY = """
    SELECT to_tsquery('search.evently', coalesce(string_agg(DISTINCT w.word, ' | '), ''))
        AS tsq
    FROM unnest({words}::text[]) AS q(word)
    JOIN search.words w ON w.word % q.word
     AND levenshtein(w.word, q.word) <= CASE WHEN length(q.word) <= 5 THEN 1 ELSE 2 END"""

_ORDER = {
    "relevance": "m.score DESC, m.starts_at, m.event_id",
    "date": "m.starts_at, m.event_id",
    "price": "m.price, m.starts_at, m.event_id",
}


@dataclass
class _Params:
    """Numbered parameters for a statement built from fragments."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def search_statement(query: SearchQuery) -> tuple[str, list[Any]]:
    """One statement answering a search: total, both facets and the page of hits.

    Facets follow the usual rule: the type facet honours every filter but ``type``, the
    city facet every filter but ``city``; hits and the total honour all of them.
    """
    p = _Params()
    common = ["d.searchable"]
    if query.upcoming_only:
        common.append("coalesce(d.ends_at, d.starts_at) >= now()")
    if query.starts_from is not None:
        common.append(f"d.starts_at >= {p.add(query.starts_from)}")
    if query.starts_before is not None:
        common.append(f"d.starts_at < {p.add(query.starts_before)}")
    if query.min_price is not None:
        common.append(f"d.price >= {p.add(query.min_price)}")
    if query.max_price is not None:
        common.append(f"d.price <= {p.add(query.max_price)}")
    if query.available is not None:
        common.append(f"d.available = {p.add(query.available)}")
    type_value = p.add(query.type) if query.type else None
    city_value = p.add(query.city) if query.city else None

    def type_ok(alias: str) -> str:
        return f"{alias}.type = {type_value}" if type_value else "true"

    def city_ok(alias: str) -> str:
        return f"{alias}.city_key = search.fold({city_value})" if city_value else "true"

    relevance = query.effective_sort == "relevance"

    def matches(source: str, condition: str, tsq: str) -> str:
        # Ranking every match costs; it is skipped unless it is the order.
        # Rank by name, venue and city; description-only matches follow, by date.
        score = f"ts_rank(d.title_tsv, {tsq}, 1)::float8" if relevance and tsq else "0::float8"
        where = " AND ".join([*common, *([condition] if condition else [])])
        return f"""
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price, {score} AS score,
           {type_ok("d")} AS type_ok, {city_ok("d")} AS city_ok
    FROM search.documents d{source}
    WHERE {where}"""

    if query.q:
        q, words = p.add(query.text), p.add(query.fuzzy_words)
        typed = f"websearch_to_tsquery('search.evently', {q})"
        # The words as typed first. Only if they match no event at all (a typo, not
        # filters excluding everything) does the fuzzy query run; its one-time filter
        # skips it otherwise.
        text_ctes = f"""
typed AS (SELECT {typed} AS tsq),
exact_matched AS MATERIALIZED ({matches(", typed i", f"{DOCUMENT_TEXT} @@ {typed}", "i.tsq")}
),
found AS (
    SELECT EXISTS (SELECT 1 FROM exact_matched)
        OR EXISTS (SELECT 1 FROM search.documents d
                   WHERE d.searchable AND {DOCUMENT_TEXT} @@ {typed})
        AS exact
),
fuzzy AS ({_FUZZY_QUERY.format(words=words)}
),
fuzzy_matched AS MATERIALIZED ({
            matches(
                ", fuzzy f", f"NOT (SELECT exact FROM found) AND {DOCUMENT_TEXT} @@ f.tsq", "f.tsq"
            )
        }
),
text_query AS (
    SELECT CASE WHEN (SELECT exact FROM found) THEN (SELECT tsq FROM typed)
                ELSE (SELECT tsq FROM fuzzy) END AS tsq
),
matched AS (SELECT * FROM exact_matched UNION ALL SELECT * FROM fuzzy_matched),"""
        highlights = _HIGHLIGHTS
        highlight_join = " CROSS JOIN text_query t"
    else:
        # A listing reads the covering index twice (counts; page in index order) rather
        # than copying every row aside.
        text_ctes = f"\nmatched AS NOT MATERIALIZED ({matches('', '', '')}\n),"
        highlights, highlight_join = "", ""
    order = _ORDER[query.effective_sort]
    limit, offset = p.add(query.limit), p.add(query.offset)
    hit = _HIT_FIELDS.format(highlights=highlights)
    # One pass over the matches counts the total and both facets (GROUPING SETS): the
    # type facet counts matches passing the city filter, the city facet those passing
    # the type filter, the total those passing both.
    sql = f"""
WITH {text_ctes}
counts AS (
    SELECT m.type, m.city, GROUPING(m.type, m.city) AS grouped,
           count(*) FILTER (WHERE m.type_ok AND m.city_ok) AS total,
           count(*) FILTER (WHERE m.city_ok) AS type_count,
           count(*) FILTER (WHERE m.type_ok) AS city_count
    FROM matched m
    GROUP BY GROUPING SETS ((), (m.type), (m.city))
), page AS (
    SELECT m.* FROM matched m
    WHERE m.type_ok AND m.city_ok
    ORDER BY {order}
    LIMIT {limit} OFFSET {offset}
)
SELECT
    (SELECT c.total FROM counts c WHERE c.grouped = 3) AS total,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.type, 'count', f.type_count)
                               ORDER BY f.type_count DESC, f.type), '[]')
     FROM (SELECT c.type, c.type_count FROM counts c WHERE c.grouped = 1 AND c.type_count > 0
           ORDER BY c.type_count DESC, c.type LIMIT {FACET_SIZE}) f) AS type_facet,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.city, 'count', f.city_count)
                               ORDER BY f.city_count DESC, f.city), '[]')
     FROM (SELECT c.city, c.city_count FROM counts c WHERE c.grouped = 2 AND c.city_count > 0
           ORDER BY c.city_count DESC, c.city LIMIT {FACET_SIZE}) f) AS city_facet,
    (SELECT coalesce(jsonb_agg({hit} ORDER BY {order}), '[]')
     FROM page m JOIN search.documents d USING (event_id){highlight_join}) AS hits"""
    return sql, p.values
