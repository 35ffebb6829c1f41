-- A search without text: every searchable event passing the filters, by date or price,
-- with the total and both facets, in one statement.
--
-- $1 starts_from, $2 starts_before, $3 min_price, $4 max_price, $5 available, $6 type,
-- $7 city, $8 sort ('date', 'price' or 'relevance'), $9 limit, $10 offset,
-- $11 upcoming only (true: events that have not ended yet), $12 the count limit.
-- An unused filter is NULL. Reads run with plan_cache_mode = force_custom_plan, so each
-- execution is planned with its values: an unused filter folds away, and so does the
-- part of ORDER BY another sort needs.
--
-- Facets follow the usual rule: the type facet honours every filter but type, the
-- city facet every filter but city; hits and the total honour all of them.
--
-- Counting is bounded: the total and each facet read at most $12 + 1 matches (in
-- whatever order the plan finds them); without a type or city filter the facets count
-- the total's sample, so one bounded read serves all three. Up to $12 the figures are exact; past it the
-- total is reported as $12 with total_is_exact false, and a facet's counts cover only
-- the matches read (facets_are_exact false). The page itself is always exact: the first
-- rows in the requested order among all matches.
WITH matched AS NOT MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price,
           ($6::text IS NULL OR d.type = $6) AS type_ok,
           ($7::text IS NULL OR d.city_key = search.fold($7)) AS city_ok
    FROM search.documents d
    WHERE d.searchable
      AND ($1::timestamptz IS NULL OR d.starts_at >= $1)
      AND ($2::timestamptz IS NULL OR d.starts_at < $2)
      AND ($3::numeric IS NULL OR d.price >= $3)
      AND ($4::numeric IS NULL OR d.price <= $4)
      AND ($5::boolean IS NULL OR d.available = $5)
      AND (NOT $11::boolean OR coalesce(d.ends_at, d.starts_at) >= now())
), total_sample AS MATERIALIZED (
    SELECT m.event_id, m.type, m.city, m.starts_at, m.price
    FROM matched m WHERE m.type_ok AND m.city_ok LIMIT $12 + 1
), type_sample AS MATERIALIZED (
    -- Only with a type filter do the type facet's matches differ from the total's.
    SELECT m.type FROM matched m WHERE $6::text IS NOT NULL AND m.city_ok LIMIT $12 + 1
), city_sample AS MATERIALIZED (
    SELECT m.city FROM matched m WHERE $7::text IS NOT NULL AND m.type_ok LIMIT $12 + 1
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
    -- The page, from the bounded read when that holds every match...
    SELECT s.event_id, s.starts_at, s.price FROM total_sample s
    WHERE (SELECT count(*) FROM total_sample) <= $12
    ORDER BY CASE WHEN $8::text = 'price' THEN s.price END, s.starts_at, s.event_id
    LIMIT $9 OFFSET $10
), page_from_walk AS (
    -- ...else by walking the order's index over every match: with more than the limit
    -- matching, the first ones come soon (a rare combination would be walked to the end).
    SELECT m.event_id, m.starts_at, m.price FROM matched m
    WHERE m.type_ok AND m.city_ok AND (SELECT count(*) FROM total_sample) > $12
    ORDER BY CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id
    LIMIT $9 OFFSET $10
), page AS (
    SELECT * FROM page_from_sample UNION ALL SELECT * FROM page_from_walk
)
SELECT
    (SELECT least(count(*), $12) FROM total_sample) AS total,
    (SELECT count(*) <= $12 FROM total_sample) AS total_is_exact,
    (SELECT coalesce(sum(c.n), 0) FROM type_counts c) <= $12
        AND (SELECT coalesce(sum(c.n), 0) FROM city_counts c) <= $12 AS facets_are_exact,
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
                'seats_available', d.seats_available)
            ORDER BY CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id),
            '[]')
     FROM page m JOIN search.documents d USING (event_id)) AS hits
