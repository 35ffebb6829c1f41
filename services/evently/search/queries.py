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
    "SET LOCAL plan_cache_mode = force_custom_plan"
)
ALL_WORDS_FROM_DOCUMENTS = f"""
INSERT INTO search.words (word)
SELECT DISTINCT w FROM search.documents u, {_WORDS_OF_DOCUMENT} AS w
WHERE u.searchable AND length(w) BETWEEN 3 AND 40
ON CONFLICT DO NOTHING"""

# Suggestions: names where the typed text starts the name, starts a word, appears, or
# (typos) is similar to a word; best first.
SUGGEST = """
WITH typed AS (
    SELECT search.fold($1) AS folded,
           replace(replace(replace(search.fold($1), '\\', '\\\\'), '%', '\\%'), '_', '\\_')
               AS pattern
), events AS (
    SELECT d.name AS text, d.name_folded AS folded, min(d.starts_at) AS first_start
    FROM search.documents d, typed t
    WHERE d.searchable
      AND (d.name_folded LIKE '%' || t.pattern || '%' OR d.name_folded %> t.folded)
    GROUP BY d.name, d.name_folded, t.folded, t.pattern
    ORDER BY (d.name_folded LIKE t.pattern || '%') DESC,
             ((' ' || d.name_folded) LIKE '% ' || t.pattern || '%') DESC,
             word_similarity(t.folded, d.name_folded) DESC, first_start, d.name
    LIMIT $2
), venues AS (
    SELECT d.venue_name AS text, d.city
    FROM search.documents d, typed t
    WHERE d.searchable AND d.venue_name <> ''
      AND (d.venue_folded LIKE '%' || t.pattern || '%' OR d.venue_folded %> t.folded)
    GROUP BY d.venue_name, d.venue_folded, d.city, t.folded, t.pattern
    ORDER BY (d.venue_folded LIKE t.pattern || '%') DESC,
             ((' ' || d.venue_folded) LIKE '% ' || t.pattern || '%') DESC,
             word_similarity(t.folded, d.venue_folded) DESC, d.venue_name, d.city
    LIMIT $2
)
SELECT (SELECT coalesce(jsonb_agg(text), '[]') FROM events) AS events,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', text, 'city', city)), '[]')
        FROM venues) AS venues"""

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

# Typo tolerance, used only when the words as typed match nothing: each query word may
# be any known word within OpenSearch's AUTO fuzziness (3-5 letters: one edit, longer:
# two), found through the trigram index of search.words; any of them may match.
_TEXT_CTES = """
typed AS (SELECT websearch_to_tsquery('search.evently', {q}) AS tsq),
exact AS (
    SELECT EXISTS (SELECT 1 FROM search.documents d, typed i
                   WHERE d.searchable AND d.tsv @@ i.tsq AND {all_filters}) AS found
),
text_query AS (
    SELECT CASE WHEN e.found THEN i.tsq ELSE (
        SELECT to_tsquery('search.evently', coalesce(string_agg(DISTINCT w.word, ' | '), ''))
        FROM unnest({words}::text[]) AS q(word)
        JOIN search.words w ON w.word % q.word
         AND levenshtein(w.word, q.word) <= CASE WHEN length(q.word) <= 5 THEN 1 ELSE 2 END
    ) END AS tsq
    FROM typed i, exact e
),"""

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

    text_ctes, text_source, score, highlights, highlight_join = "", "", "0::float8", "", ""
    if query.q:
        all_filters = " AND ".join([*common, type_ok("d"), city_ok("d")])
        text_ctes = _TEXT_CTES.format(
            q=p.add(query.q), words=p.add(query.fuzzy_words), all_filters=all_filters
        )
        text_source = ", text_query t"
        common.append("d.tsv @@ t.tsq")
        score = "ts_rank(d.tsv, t.tsq, 1)::float8"
        highlights = _HIGHLIGHTS
        highlight_join = " CROSS JOIN text_query t"
    order = _ORDER[query.effective_sort]
    limit, offset = p.add(query.limit), p.add(query.offset)
    hit = _HIT_FIELDS.format(highlights=highlights)
    sql = f"""
WITH {text_ctes}
matched AS MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.city_key, d.starts_at, d.price, {score} AS score
    FROM search.documents d{text_source}
    WHERE {" AND ".join(common)}
), page AS (
    SELECT m.* FROM matched m
    WHERE {type_ok("m")} AND {city_ok("m")}
    ORDER BY {order}
    LIMIT {limit} OFFSET {offset}
)
SELECT
    (SELECT count(*) FROM matched m WHERE {type_ok("m")} AND {city_ok("m")}) AS total,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.type, 'count', f.n)
                               ORDER BY f.n DESC, f.type), '[]')
     FROM (SELECT m.type, count(*) AS n FROM matched m WHERE {city_ok("m")}
           GROUP BY m.type ORDER BY n DESC, m.type LIMIT 50) f) AS type_facet,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.city, 'count', f.n)
                               ORDER BY f.n DESC, f.city), '[]')
     FROM (SELECT m.city, count(*) AS n FROM matched m WHERE {type_ok("m")}
           GROUP BY m.city ORDER BY n DESC, m.city LIMIT 50) f) AS city_facet,
    (SELECT coalesce(jsonb_agg({hit} ORDER BY {order}), '[]')
     FROM page m JOIN search.documents d USING (event_id){highlight_join}) AS hits"""
    return sql, p.values
