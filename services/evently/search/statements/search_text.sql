-- A text search: the events whose text matches, with the total, both facets and one
-- page of hits with highlights, in one statement.
--
-- $1 starts_from, $2 starts_before, $3 min_price, $4 max_price, $5 available, $6 type,
-- $7 city, $8 sort ('relevance', 'date' or 'price'), $9 limit, $10 offset,
-- $11 upcoming only (true: events that have not ended yet), $12 the text (websearch
-- syntax), $13 the query's words for typo tolerance.
-- An unused filter is NULL; see search_listing.sql for how each execution is planned
-- and how the facets are counted.
--
-- The words as typed first. Only if they match no event at all (a typo, not filters
-- excluding everything) does the fuzzy query run: each query word may be any known
-- word within OpenSearch's AUTO fuzziness (3-5 letters: one edit, longer: two), found
-- through the trigram index of search.words. Ranking every match costs; it is skipped
-- unless it is the order. Relevance ranks by name, venue and city (title_tsv);
-- description-only matches follow, by date. The text condition must be written exactly
-- as documents_text_idx is defined, for the index to be used.
WITH typed AS (
    SELECT websearch_to_tsquery('search.evently', $12) AS tsq
), filtered AS NOT MATERIALIZED (
    SELECT d.* FROM search.documents d
    WHERE d.searchable
      AND ($1::timestamptz IS NULL OR d.starts_at >= $1)
      AND ($2::timestamptz IS NULL OR d.starts_at < $2)
      AND ($3::numeric IS NULL OR d.price >= $3)
      AND ($4::numeric IS NULL OR d.price <= $4)
      AND ($5::boolean IS NULL OR d.available = $5)
      AND (NOT $11::boolean OR coalesce(d.ends_at, d.starts_at) >= now())
), exact_matched AS MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price,
           CASE WHEN $8::text = 'relevance' THEN ts_rank(d.title_tsv, i.tsq, 1)::float8
                ELSE 0::float8 END AS score,
           ($6::text IS NULL OR d.type = $6) AS type_ok,
           ($7::text IS NULL OR d.city_key = search.fold($7)) AS city_ok
    FROM filtered d, typed i
    WHERE (d.title_tsv || setweight(to_tsvector('search.evently', d.description), 'C'))
          @@ i.tsq
), found AS (
    SELECT EXISTS (SELECT 1 FROM exact_matched)
        OR EXISTS (SELECT 1 FROM search.documents d, typed i
                   WHERE d.searchable
                     AND (d.title_tsv
                          || setweight(to_tsvector('search.evently', d.description), 'C'))
                         @@ i.tsq)
        AS exact
), fuzzy AS (
    SELECT to_tsquery('search.evently', coalesce(string_agg(DISTINCT w.word, ' | '), ''))
        AS tsq
    FROM unnest($13::text[]) AS q(word)
    JOIN search.words w ON w.word % q.word
     AND levenshtein(w.word, q.word) <= CASE WHEN length(q.word) <= 5 THEN 1 ELSE 2 END
), fuzzy_matched AS MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price,
           CASE WHEN $8::text = 'relevance' THEN ts_rank(d.title_tsv, f.tsq, 1)::float8
                ELSE 0::float8 END AS score,
           ($6::text IS NULL OR d.type = $6) AS type_ok,
           ($7::text IS NULL OR d.city_key = search.fold($7)) AS city_ok
    FROM filtered d, fuzzy f
    WHERE NOT (SELECT exact FROM found)
      AND (d.title_tsv || setweight(to_tsvector('search.evently', d.description), 'C'))
          @@ f.tsq
), text_query AS (
    SELECT CASE WHEN (SELECT exact FROM found) THEN (SELECT tsq FROM typed)
                ELSE (SELECT tsq FROM fuzzy) END AS tsq
), matched AS (
    SELECT * FROM exact_matched UNION ALL SELECT * FROM fuzzy_matched
), counts AS (
    SELECT m.type, m.city, GROUPING(m.type, m.city) AS grouped,
           count(*) FILTER (WHERE m.type_ok AND m.city_ok) AS total,
           count(*) FILTER (WHERE m.city_ok) AS type_count,
           count(*) FILTER (WHERE m.type_ok) AS city_count
    FROM matched m
    GROUP BY GROUPING SETS ((), (m.type), (m.city))
), page AS (
    SELECT m.* FROM matched m
    WHERE m.type_ok AND m.city_ok
    ORDER BY CASE WHEN $8::text = 'relevance' THEN m.score END DESC,
             CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id
    LIMIT $9 OFFSET $10
)
SELECT
    (SELECT c.total FROM counts c WHERE c.grouped = 3) AS total,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.type, 'count', f.type_count)
                               ORDER BY f.type_count DESC, f.type), '[]')
     FROM (SELECT c.type, c.type_count FROM counts c WHERE c.grouped = 1 AND c.type_count > 0
           ORDER BY c.type_count DESC, c.type LIMIT 50) f) AS type_facet,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('value', f.city, 'count', f.city_count)
                               ORDER BY f.city_count DESC, f.city), '[]')
     FROM (SELECT c.city, c.city_count FROM counts c WHERE c.grouped = 2 AND c.city_count > 0
           ORDER BY c.city_count DESC, c.city LIMIT 50) f) AS city_facet,
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
                    'name', ts_headline('search.evently', d.name, t.tsq,
                        'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', HighlightAll=true'),
                    'venue', ts_headline('search.evently', d.venue_name || ', ' || d.city,
                        t.tsq, 'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', HighlightAll=true'),
                    'description', ts_headline('search.evently', d.description, t.tsq,
                        'StartSel=' || chr(57344) || ', StopSel=' || chr(57345)
                        || ', MaxFragments=2, MaxWords=20, MinWords=8, '
                        || 'FragmentDelimiter=" … "')))
            ORDER BY CASE WHEN $8::text = 'relevance' THEN m.score END DESC,
                     CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id),
            '[]')
     FROM page m JOIN search.documents d USING (event_id) CROSS JOIN text_query t) AS hits
