-- A text search: the events whose text matches, with the total, both facets and one
-- page of hits with highlights, in one statement.
--
-- $1 starts_from, $2 starts_before, $3 min_price, $4 max_price, $5 available, $6 type,
-- $7 city, $8 sort ('relevance', 'date' or 'price'), $9 limit, $10 offset,
-- $11 upcoming only (true: events that have not ended yet), $12 the text, $13 the
-- count limit. The text query, filled in by queries.py, is websearch_to_tsquery of $12
-- (the words as typed), or to_tsquery of $12 (the typo-tolerant alternatives, a
-- "word | word" list). Either way the query is a constant when planned, so the planner
-- sees how common its words are (statistics of search_tsv): for a common word it
-- walks the date or price order checking search_tsv row by row, for a rare one it uses
-- the GIN index (documents_text_idx).
-- An unused filter is NULL; see search_listing.sql for how each execution is planned
-- and how the total and the facets are counted (at most $13 + 1 matches each).
--
-- Relevance ranks by name, venue and city (title_tsv); description-only matches
-- follow, by date. When more events match than the count limit, it ranks the first
-- ones found (see candidates).
WITH matched AS NOT MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price, d.title_tsv,
           ($6::text IS NULL OR d.type = $6) AS type_ok,
           ($7::text IS NULL OR d.city_key = search.fold($7)) AS city_ok
    FROM search.documents d
    WHERE d.searchable
      AND d.search_tsv @@ {text_query}
      AND ($1::timestamptz IS NULL OR d.starts_at >= $1)
      AND ($2::timestamptz IS NULL OR d.starts_at < $2)
      AND ($3::numeric IS NULL OR d.price >= $3)
      AND ($4::numeric IS NULL OR d.price <= $4)
      AND ($5::boolean IS NULL OR d.available = $5)
      AND (NOT $11::boolean OR coalesce(d.ends_at, d.starts_at) >= now())
), total_sample AS MATERIALIZED (
    -- The read limit (queries.py): the count limit, or for relevance at least a page's worth, so that
    -- a deep page is ranked among enough candidates.
    SELECT m.event_id, m.type, m.city, m.starts_at, m.price, m.title_tsv
    FROM matched m WHERE m.type_ok AND m.city_ok
    LIMIT {read_limit} + 1
), type_sample AS MATERIALIZED (
    -- Only with a type filter do the type facet's matches differ from the total's.
    SELECT m.type FROM matched m WHERE $6::text IS NOT NULL AND m.city_ok LIMIT $13 + 1
), city_sample AS MATERIALIZED (
    SELECT m.city FROM matched m WHERE $7::text IS NOT NULL AND m.type_ok LIMIT $13 + 1
), type_counts AS (
    SELECT t.type AS value, count(*) AS n
    FROM (SELECT s.type FROM total_sample s WHERE $6::text IS NULL
          UNION ALL SELECT s.type FROM type_sample s) t
    GROUP BY t.type
), city_counts AS (
    SELECT t.city AS value, count(*) AS n
    FROM (SELECT s.city FROM total_sample s WHERE $7::text IS NULL
          UNION ALL SELECT s.city FROM city_sample s) t
    GROUP BY t.city
), page_from_sample AS (
    -- The page, from the bounded read when that holds every match (or, for relevance,
    -- always: ranking reads every candidate, so past the count limit it ranks the
    -- matches read, at least a page's worth). queries.py fills in the condition.
    SELECT s.event_id, s.starts_at, s.price,
           CASE WHEN $8::text = 'relevance' THEN ts_rank(s.title_tsv, {text_query}, 1)::float8
                ELSE 0::float8 END AS score
    FROM total_sample s
    WHERE {page_from_sample}
    ORDER BY score DESC, CASE WHEN $8::text = 'price' THEN s.price END, s.starts_at,
             s.event_id
    LIMIT $9 OFFSET $10
), page_from_walk AS (
    -- Otherwise (date or price past the count limit) the page walks that order over
    -- every match; with more than the limit matching, the first ones come soon. Never
    -- walked for a rare combination: a walk in price order for "science" among operas
    -- read all million rows looking for its first match.
    SELECT m.event_id, m.starts_at, m.price, 0::float8 AS score
    FROM matched m
    WHERE m.type_ok AND m.city_ok AND NOT {page_from_sample}
    ORDER BY CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id
    LIMIT $9 OFFSET $10
), page AS (
    SELECT * FROM page_from_sample UNION ALL SELECT * FROM page_from_walk
)
SELECT
    (SELECT least(count(*), {read_limit}) FROM total_sample) AS total,
    (SELECT count(*) <= {read_limit} FROM total_sample) AS total_is_exact,
    (SELECT coalesce(sum(c.n), 0) FROM type_counts c) <= {read_limit}
        AND (SELECT coalesce(sum(c.n), 0) FROM city_counts c) <= {read_limit}
        AS facets_are_exact,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.value, 'count', f.n)
                               ORDER BY f.n DESC, f.value), '[]')
     FROM (SELECT * FROM type_counts c ORDER BY c.n DESC, c.value LIMIT 50) f) AS type_facet,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.value, 'count', f.n)
                               ORDER BY f.n DESC, f.value), '[]')
     FROM (SELECT * FROM city_counts c ORDER BY c.n DESC, c.value LIMIT 50) f) AS city_facet,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'id', d.event_id, 'name', d.name, 'description', d.description,
                'type', d.type, 'starts_at', d.starts_at, 'ends_at', d.ends_at,
                'price', d.price::text, 'currency', d.currency,
                'venue', jsonb_build_object('id', d.venue_id, 'name', d.venue_name,
                                            'city', d.city),
                'available', d.available, 'sold_out', d.sold_out,
                'seats_available', d.seats_available,
                -- Highlight marks: U+E000 and U+E001 (search/models.py MARK_START/END).
                'highlights', jsonb_build_object(
                    'name', ts_headline('search.evently', d.name, {text_query},
                        'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', HighlightAll=true'),
                    'venue', ts_headline('search.evently', d.venue_name || ', ' || d.city,
                        {text_query}, 'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', HighlightAll=true'),
                    'description', ts_headline('search.evently', d.description, {text_query},
                        'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', MaxFragments=2, MaxWords=20, MinWords=8, '
                        || 'FragmentDelimiter=" … "')))
            ORDER BY m.score DESC, CASE WHEN $8::text = 'price' THEN m.price END,
                     m.starts_at, m.event_id),
            '[]')
     FROM page m JOIN search.documents d USING (event_id) ) AS hits
