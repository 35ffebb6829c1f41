-- Text searches with a date or price range over a million events (issue 15 goal 4).
--
-- A text search with a date range read every row of its words and checked the range on
-- each: "impressionist" from 25 February to 12 April read 14,465 buffers (20,000 rows)
-- to count 1,000. GIN answers equality well and ranges badly (btree_gin scans each bound
-- of a range as its own partial match over half the table), so each row carries its
-- start and its price as a few keys at several granularities, and a range is passed as
-- at most 8 keys that cover it (range_keys.py): the text index then intersects the
-- words' posting lists with the union of those keys (1,106 buffers).
--
-- start_keys: the start's UTC day, Monday week, month and year; price_keys: the price's
-- floor in units, tens, hundreds and thousands, in exact numeric arithmetic (clamped to
-- +-10^15, far past any price a query can name). The granularity is in each key's last
-- three bits. An index depends on these functions: they must never change (a new
-- encoding is new functions and a new index).
--
-- The index replaces documents_text_idx (the same three first columns, which still
-- serve searches without ranges) and takes its name. In one transaction, as every
-- migration: CREATE INDEX blocks writes while it builds, not reads, and so does the
-- ANALYZE at the end until the commit (1 min 41 s for both at a million events on the
-- shared 2-core machine at load 12-16); the drop, which does block reads, is quick.
-- An operator who cannot pause the inbox that long builds the index first with CREATE
-- INDEX CONCURRENTLY under the name below (docs/search.md); the build here is then
-- skipped. An invalid leftover of a failed concurrent build is rebuilt.
CREATE OR REPLACE FUNCTION search.start_keys(starts_at timestamptz) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN ARRAY[floor(extract(epoch FROM starts_at) / 86400)::bigint * 8,
                 floor((extract(epoch FROM starts_at) / 86400 + 3) / 7)::bigint * 8 + 1,
                 (extract(year FROM starts_at AT TIME ZONE 'UTC') * 12
                  + extract(month FROM starts_at AT TIME ZONE 'UTC') - 1)::bigint * 8 + 2,
                 extract(year FROM starts_at AT TIME ZONE 'UTC')::bigint * 8 + 3];

CREATE OR REPLACE FUNCTION search.price_keys(price numeric) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN ARRAY(SELECT floor(floor(least(greatest(price, -1e15), 1e15))
                              / 10::numeric ^ level)::bigint * 8 + level
                 FROM generate_series(0, 3) AS level ORDER BY level);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid =
                   to_regclass('search.documents_text_keys_idx') AND NOT i.indisvalid) THEN
        DROP INDEX search.documents_text_keys_idx;
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS documents_text_keys_idx ON search.documents
    USING gin (search_tsv, city_key, type, search.start_keys(starts_at),
               search.price_keys(price))
    WHERE searchable;
DROP INDEX search.documents_text_idx;
ALTER INDEX search.documents_text_keys_idx RENAME TO documents_text_idx;

-- The planner's estimates of how many rows a union of keys matches (range_keys.choose
-- asks for them): the statistics of a partial index's expressions are never used, so
-- the expressions get statistics of their own. Without them every key was guessed at
-- 0.5 % of the rows (3 months: 15,000 instead of 119,000). ANALYZE fills them now
-- (about 10 s at a million events) rather than at autovacuum's next visit.
CREATE STATISTICS search.documents_range_keys
    ON (search.start_keys(starts_at)), (search.price_keys(price)) FROM search.documents;
ANALYZE search.documents;
