-- A search without text: every searchable event passing the filters, by date or price,
-- with the total and both facets, in one statement.
--
-- $1 starts_from, $2 starts_before, $3 min_price, $4 max_price, $5 available, $6 type,
-- $7 city, $8 sort ('date', 'price' or 'relevance'), $9 limit, $10 offset,
-- $11 upcoming only (true: events that have not ended yet).
-- An unused filter is NULL. Reads run with plan_cache_mode = force_custom_plan, so each
-- execution is planned with its values: an unused filter folds away, and so does the
-- part of ORDER BY another sort needs.
--
-- Facets follow the usual rule: the type facet honours every filter but type, the
-- city facet every filter but city; hits and the total honour all of them. One pass
-- over the matches counts the total and both facets (GROUPING SETS). A listing reads
-- the covering index twice (counts; page in index order) rather than copying every
-- row aside.
WITH matched AS NOT MATERIALIZED (
    SELECT d.event_id, d.type, d.city, d.starts_at, d.price, 0::float8 AS score,
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
    ORDER BY CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id
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
                'seats_available', d.seats_available)
            ORDER BY CASE WHEN $8::text = 'price' THEN m.price END, m.starts_at, m.event_id),
            '[]')
     FROM page m JOIN search.documents d USING (event_id)) AS hits
