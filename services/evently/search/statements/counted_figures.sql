-- The total and both facets from counted_samples.sql, as the first columns of the
-- statement's result (queries.py puts it in place). Up to the read limit the figures
-- are exact; past it the total is reported as the limit with
-- total_is_exact false, and a facet's counts cover only the matches read
-- (facets_are_exact false). At most 50 values per facet, the most frequent first.
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
