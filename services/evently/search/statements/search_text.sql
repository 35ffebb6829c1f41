-- A text search: the events whose text matches, with the total, both facets and one
-- page of hits with highlights, in one statement.
--
-- $1 starts_from, $2 starts_before, $3 min_price, $4 max_price, $5 available, $6 type,
-- $7 city, $8 sort ('relevance', 'date' or 'price'), $9 limit, $10 offset,
-- $11 upcoming only (true: events that have not ended yet), $12 the text, $13 the
-- count limit, $14 the date keys and $15 the price keys (range_keys.py: the keys of the
-- text index covering the date and the price range, NULL when not worth passing; they
-- only let the index narrow the rows, the exact bounds are $1-$4). The text query, filled in by queries.py, is websearch_to_tsquery of $12
-- (the words as typed), or to_tsquery of $12 (the typo-tolerant alternatives, a
-- "word | word" list). Either way the query is a constant when planned, so the planner
-- sees how common its words are (statistics of search_tsv): for a common word it
-- walks the date or price order checking search_tsv row by row, for a rare one it uses
-- the GIN index (documents_text_idx, which also holds city_key and type, so a city
-- or type filter is intersected with the words inside the index).
-- An unused filter is NULL; see search_listing.sql for how each execution is planned.
-- The total and the facets: counted_samples.sql and counted_figures.sql, with the read
-- limit filled in by queries.py: $13, or for relevance at least the page's end, so
-- that a deep page is ranked among enough candidates.
--
-- Relevance ranks by name, venue and city (title_tsv); description-only matches
-- follow, by date. When more events match than the read limit, it ranks the first
-- ones found (total_sample).
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
      AND ($14::bigint[] IS NULL OR search.start_keys(d.starts_at) && $14)
      AND ($15::bigint[] IS NULL OR search.price_keys(d.price) && $15)
),
{counted_samples}page_from_sample AS (
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
{counted_figures}
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
