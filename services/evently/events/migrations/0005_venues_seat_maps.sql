-- Venues become a resource of their own (admin API, ETag versions), and seat maps
-- replace their free-form layout (docs/seating.md).

-- A venue's version, bumped by every change to its details (its ETag).
ALTER TABLE events.venues ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version >= 1);

-- The free-form layout is superseded by seat maps. Nothing ever interpreted it, so it
-- cannot be turned into a map; it is kept verbatim, read-only, as legacy_layout (shown
-- on the admin venue resource, for an admin to transcribe), and no longer written.
-- An empty layout ({}, the old default) carried nothing: it becomes NULL.
ALTER TABLE events.venues RENAME COLUMN layout TO legacy_layout;
ALTER TABLE events.venues ALTER COLUMN legacy_layout DROP NOT NULL;
ALTER TABLE events.venues ALTER COLUMN legacy_layout DROP DEFAULT;
UPDATE events.venues SET legacy_layout = NULL WHERE legacy_layout = '{}'::jsonb;

-- A venue's seat maps; each upload is a new, immutable version.
CREATE TABLE events.seat_maps (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    venue_id        bigint      NOT NULL REFERENCES events.venues (id),
    name            text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    latest_version  integer     NOT NULL CHECK (latest_version >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seat_maps_venue_idx ON events.seat_maps (venue_id, id);

-- One version: the normalised document (docs/seating.md) and the counts events need
-- without reading it (a seated event's capacity is sellable_seats).
CREATE TABLE events.seat_map_versions (
    map_id          bigint      NOT NULL REFERENCES events.seat_maps (id),
    version         integer     NOT NULL CHECK (version >= 1),
    name            text        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('upload', 'rectangular')),
    seats           integer     NOT NULL CHECK (seats BETWEEN 1 AND 100000),
    sellable_seats  integer     NOT NULL CHECK (sellable_seats BETWEEN 0 AND seats),
    stats           jsonb       NOT NULL,
    document        jsonb       NOT NULL,
    created_by      bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (map_id, version)
);

-- A seated event pins one version of a map; NULL, NULL: general admission.
ALTER TABLE events.events
    ADD COLUMN seat_map_id bigint,
    ADD COLUMN seat_map_version integer,
    ADD CONSTRAINT events_seating_pinned
        CHECK ((seat_map_id IS NULL) = (seat_map_version IS NULL)),
    ADD CONSTRAINT events_seat_map_version_fkey FOREIGN KEY (seat_map_id, seat_map_version)
        REFERENCES events.seat_map_versions (map_id, version);
CREATE INDEX events_seat_map_idx ON events.events (seat_map_id, seat_map_version)
    WHERE seat_map_id IS NOT NULL;
