-- Suggestions over a million events (issue 15 goal 4): every distinct event name and
-- venue (with its city) of searchable events, with how many searchable events carry
-- it. The indexer keeps the counts in the same statement as the document write
-- (queries.UPSERT_EVENT), so they are exact; suggest reads this small table instead of
-- grouping the matching documents (a two-letter prefix matched hundreds of thousands).
-- A count that falls to 0 keeps its row (a name may come back) and is never offered.
CREATE TABLE search.suggestions (
    kind    text    NOT NULL CHECK (kind IN ('event', 'venue')),
    name    text    NOT NULL,
    city    text    NOT NULL DEFAULT '',  -- venues only
    events  integer NOT NULL CHECK (events >= 0),
    folded  text    GENERATED ALWAYS AS (search.fold(name)) STORED,
    words   tsvector GENERATED ALWAYS AS (
        to_tsvector('pg_catalog.simple', search.fold(name))) STORED,
    PRIMARY KEY (kind, name, city)
);
CREATE INDEX suggestions_words_idx ON search.suggestions USING gin (words) WHERE events > 0;
CREATE INDEX suggestions_trgm_idx ON search.suggestions
    USING gin (folded gin_trgm_ops) WHERE events > 0;

INSERT INTO search.suggestions (kind, name, city, events)
SELECT 'event', name, '', count(*) FROM search.documents WHERE searchable GROUP BY name
UNION ALL
SELECT 'venue', venue_name, city, count(*) FROM search.documents
WHERE searchable AND venue_name <> '' GROUP BY venue_name, city;
