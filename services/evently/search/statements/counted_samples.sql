-- The bounded reads behind the total and both facets, shared by search_listing.sql and
-- search_text.sql (queries.py puts it in place, with the statement's read limit: the
-- count limit, or for relevance at least a page's worth). It reads the statement's
-- `matched` CTE, whose rows carry type_ok and city_ok (whether the row passes the type
-- and the city filter).
--
-- Facets follow the usual rule: the type facet counts the matches of every filter but
-- type (city_ok), the city facet those of every filter but city (type_ok); the total
-- counts those of all of them. Each of the three counts at most the read limit + 1
-- matches (in whatever order the plan finds them).
--
-- One read serves two or all three: the type facet's matches (every filter but type)
-- when a type filter is set, else every match, at most the read limit + 1.
-- - The type facet counts that read, or without a type filter the total's sample
--   (then the same matches).
-- - The city facet counts the total's sample without a city filter, the first read
--   with a city filter alone (every match), and its own bounded read with both.
-- - The total counts the first read's rows passing both filters when that read holds
--   every match it looked for (it ended before the limit) or more than the limit of
--   them; only otherwise (a full first read with too few passing the filters) does it
--   read its own bounded sample.
-- Before, every type or city filter added a read of its own, and a rare combination
-- (fewer matches than the limit) read every candidate in each of them.
first_read AS MATERIALIZED (
    SELECT m.* FROM matched m WHERE $6::text IS NULL OR m.city_ok
    LIMIT {read_limit} + 1
), first_read_holds_total AS MATERIALIZED (
    SELECT count(*) <= {read_limit}
           OR count(*) FILTER (WHERE f.type_ok AND f.city_ok) > {read_limit} AS holds
    FROM first_read f
), total_sample AS MATERIALIZED (
    SELECT f.* FROM first_read f
    WHERE f.type_ok AND f.city_ok AND (SELECT h.holds FROM first_read_holds_total h)
    UNION ALL
    (SELECT m.* FROM matched m
     WHERE m.type_ok AND m.city_ok AND NOT (SELECT h.holds FROM first_read_holds_total h)
     LIMIT {read_limit} + 1)
), type_sample AS (
    SELECT f.type FROM first_read f WHERE $6::text IS NOT NULL
    UNION ALL
    SELECT s.type FROM total_sample s WHERE $6::text IS NULL
), city_sample AS (
    SELECT s.city FROM total_sample s WHERE $7::text IS NULL
    UNION ALL
    SELECT f.city FROM first_read f WHERE $7::text IS NOT NULL AND $6::text IS NULL
    UNION ALL
    (SELECT m.city FROM matched m
     WHERE $7::text IS NOT NULL AND $6::text IS NOT NULL AND m.type_ok
     LIMIT {read_limit} + 1)
), type_counts AS (
    SELECT s.type AS value, count(*) AS n FROM type_sample s GROUP BY s.type
), city_counts AS (
    SELECT s.city AS value, count(*) AS n FROM city_sample s GROUP BY s.city
),
