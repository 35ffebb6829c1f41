-- Searches over a million events (issue 15 goal 4). Counting stops after
-- SEARCH_COUNT_LIMIT matches, so a broad query no longer reads every match; what it
-- reads instead must be cheap per row:
--
-- - search_tsv stores the whole weighted vector (name A, venue and city B, description
--   C). A row reached through a btree (the date or price order) is checked with a
--   plain `@@` on it, instead of recomputing to_tsvector(description); and the planner
--   has statistics on its words to choose between walking that order and the GIN index.
--   A generated column cannot use another one, so it repeats title_tsv's expression.
-- - The listing index also covers ends_at, which "not ended yet" (the default) reads,
--   so listings can stay index-only.
ALTER TABLE search.documents ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('search.evently', name), 'A')
    || setweight(to_tsvector('search.evently', venue_name || ' ' || city), 'B')
    || setweight(to_tsvector('search.evently', description), 'C')) STORED;

DROP INDEX search.documents_text_idx;
CREATE INDEX documents_text_idx ON search.documents USING gin (search_tsv) WHERE searchable;

DROP INDEX search.documents_listing_idx;
CREATE INDEX documents_listing_idx ON search.documents (starts_at, event_id)
    INCLUDE (type, city, city_key, price, available, ends_at) WHERE searchable;

-- The price, city and type orders cover the same columns, so a listing filtered on
-- them counts and pages from the index alone too (with 1,000 matches to count among
-- 8,000 in a price range, reading the rows cost 30-270 ms on the loaded machine).
DROP INDEX search.documents_price_idx;
CREATE INDEX documents_price_idx ON search.documents (price, starts_at, event_id)
    INCLUDE (type, city, city_key, available, ends_at) WHERE searchable;
DROP INDEX search.documents_city_idx;
CREATE INDEX documents_city_idx ON search.documents (city_key, starts_at, event_id)
    INCLUDE (type, city, price, available, ends_at) WHERE searchable;
DROP INDEX search.documents_type_idx;
CREATE INDEX documents_type_idx ON search.documents (type, starts_at, event_id)
    INCLUDE (city, city_key, price, available, ends_at) WHERE searchable;
