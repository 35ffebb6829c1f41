-- The search service's own projection of events: one denormalized row per event, fed
-- by event.changed and inventory.changed. It is the index of the PostgreSQL backend and
-- the source the OpenSearch backend is (re)built from.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch WITH SCHEMA public;

CREATE TABLE search.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);

-- Lower case without accents: "Zürich" and "zurich" compare equal. unaccent() is only
-- STABLE (its dictionary could change); pinning the dictionary makes this safe to use
-- in generated columns and indexes.
CREATE FUNCTION search.fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

-- English stemming on accent-folded words ("Cafés" -> "cafe").
CREATE TEXT SEARCH CONFIGURATION search.evently (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION search.evently
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, hword, hword_part, word
    WITH public.unaccent, pg_catalog.english_stem;

-- Every applied change takes the next number; a reindex copies what changed after its
-- snapshot by this number.
CREATE SEQUENCE search.document_changes;

CREATE TABLE search.documents (
    event_id          bigint      PRIMARY KEY,
    event_version     bigint      NOT NULL DEFAULT 0,  -- 0: no event.changed seen yet
    inventory_version bigint      NOT NULL DEFAULT 0,  -- 0: no inventory.changed seen yet
    status            text,
    searchable        boolean     NOT NULL DEFAULT false,  -- published (not draft/cancelled/completed)
    name              text        NOT NULL DEFAULT '',
    description       text        NOT NULL DEFAULT '',
    type              text        NOT NULL DEFAULT '',
    starts_at         timestamptz,
    ends_at           timestamptz,
    price             numeric,    -- unconstrained: keeps the producer's "49.90" as is
    currency          text,
    capacity          integer,
    venue_id          bigint,
    venue_name        text        NOT NULL DEFAULT '',
    city              text        NOT NULL DEFAULT '',
    seats_available   integer,
    on_sale           boolean,
    sold_out          boolean     NOT NULL DEFAULT false,
    change_seq        bigint      NOT NULL DEFAULT nextval('search.document_changes'),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    available         boolean     GENERATED ALWAYS AS (
        NOT sold_out AND coalesce(seats_available, capacity, 0) > 0) STORED,
    city_key          text        GENERATED ALWAYS AS (search.fold(city)) STORED,
    name_folded       text        GENERATED ALWAYS AS (search.fold(name)) STORED,
    venue_folded      text        GENERATED ALWAYS AS (search.fold(venue_name)) STORED,
    -- Unstemmed words of the name and of the venue, for "starts with" suggestions.
    name_words        tsvector    GENERATED ALWAYS AS (
        to_tsvector('pg_catalog.simple', search.fold(name))) STORED,
    venue_words       tsvector    GENERATED ALWAYS AS (
        to_tsvector('pg_catalog.simple', search.fold(venue_name))) STORED,
    -- Name (weight A) and venue and city (B); ranking uses this small vector only.
    title_tsv         tsvector    GENERATED ALWAYS AS (
        setweight(to_tsvector('search.evently', name), 'A')
        || setweight(to_tsvector('search.evently', venue_name || ' ' || city), 'B')) STORED
);

-- Full text over everything, description with weight C. Only the index holds the whole
-- vector: storing it would double the rows' width, and every broad search reads rows.
-- Not partial, so the planner has statistics for the expression.
CREATE INDEX documents_text_idx ON search.documents USING gin (
    (title_tsv || setweight(to_tsvector('search.evently', description), 'C')));

-- Searches only ever look at searchable rows; the rest are version tombstones.
CREATE INDEX documents_name_words_idx ON search.documents USING gin (name_words) WHERE searchable;
CREATE INDEX documents_venue_words_idx ON search.documents
    USING gin (venue_words) WHERE searchable;
-- Suggestions for a misspelt prefix ("jaz nigt") fall back to trigram similarity.
CREATE INDEX documents_name_trgm_idx ON search.documents
    USING gin (name_folded gin_trgm_ops) WHERE searchable;
CREATE INDEX documents_venue_trgm_idx ON search.documents
    USING gin (venue_folded gin_trgm_ops) WHERE searchable;
-- Listings (no text) read dates, facets and filters from this index alone.
CREATE INDEX documents_listing_idx ON search.documents (starts_at, event_id)
    INCLUDE (type, city, city_key, price, available) WHERE searchable;
CREATE INDEX documents_price_idx ON search.documents (price, starts_at, event_id) WHERE searchable;
CREATE INDEX documents_city_idx ON search.documents (city_key, starts_at) WHERE searchable;
CREATE INDEX documents_type_idx ON search.documents (type, starts_at) WHERE searchable;
CREATE INDEX documents_change_seq_idx ON search.documents (change_seq);

-- Every word (3+ letters, folded) that appears in an indexed event: typo tolerance
-- looks up the words within an edit or two of a query word here, then searches for
-- them with the GIN index. Words are only added; a word no event uses any more simply
-- matches nothing.
CREATE TABLE search.words (
    word text PRIMARY KEY
);
CREATE INDEX words_trgm_idx ON search.words USING gin (word gin_trgm_ops);
