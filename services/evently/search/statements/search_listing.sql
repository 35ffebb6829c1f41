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
-- The total and the facets: counted_samples.sql and counted_figures.sql, with $12 as
-- the read limit (at most $12 + 1 matches read for each). The page itself is always
-- exact: the first rows in the requested order among all matches.
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
),
{counted_samples}page_from_sample AS (
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
{counted_figures}
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
