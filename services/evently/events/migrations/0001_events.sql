-- The events service: venues, events, the outbox that carries every change out, the
-- inbox that deduplicates what bookings sends back, and bookings' seat figures.

CREATE TABLE events.venues (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    address     text        NOT NULL CHECK (length(btrim(address)) BETWEEN 1 AND 500),
    city        text        NOT NULL CHECK (length(btrim(city)) BETWEEN 1 AND 100),
    capacity    integer     NOT NULL CHECK (capacity > 0),
    layout      jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(layout) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Admins embed the venue in an event; it is upserted by (name, city), case-insensitively.
CREATE UNIQUE INDEX venues_name_city_key ON events.venues (lower(name), lower(city));
CREATE INDEX venues_city_idx ON events.venues (lower(city));

CREATE TABLE events.events (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                        text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description                 text        NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    venue_id                    bigint      NOT NULL REFERENCES events.venues (id),
    type                        text        NOT NULL CHECK (type ~ '^[a-z][a-z0-9-]{0,39}$'),
    starts_at                   timestamptz NOT NULL,
    ends_at                     timestamptz NOT NULL,
    capacity                    integer     NOT NULL CHECK (capacity BETWEEN 1 AND 1000000),
    price                       numeric(12, 2) NOT NULL CHECK (price >= 0),
    currency                    char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                      text        NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'published', 'cancelled', 'completed')),
    sale_opens_at               timestamptz,
    sale_closes_at              timestamptz,
    max_per_user                integer     NOT NULL DEFAULT 10 CHECK (max_per_user BETWEEN 1 AND 100),
    hold_ttl_seconds            integer     NOT NULL DEFAULT 600
        CHECK (hold_ttl_seconds BETWEEN 1 AND 3600),
    waitlist_enabled            boolean     NOT NULL DEFAULT true,
    waitlist_offer_ttl_seconds  integer     NOT NULL DEFAULT 900
        CHECK (waitlist_offer_ttl_seconds BETWEEN 1 AND 86400),
    created_by                  bigint,
    managed_by                  text CHECK (
        managed_by IS NULL OR managed_by ~ '^kubernetes:[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$'),
    version                     bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_ends_after_starts CHECK (ends_at > starts_at),
    CONSTRAINT events_duration_bounded CHECK (ends_at - starts_at <= interval '366 days'),
    CONSTRAINT events_sale_window_ordered
        CHECK (sale_opens_at IS NULL OR sale_closes_at IS NULL OR sale_closes_at > sale_opens_at),
    CONSTRAINT events_sale_opens_before_end CHECK (sale_opens_at IS NULL OR sale_opens_at < ends_at),
    CONSTRAINT events_sale_closes_by_end CHECK (sale_closes_at IS NULL OR sale_closes_at <= ends_at),
    CONSTRAINT events_max_per_user_within_capacity CHECK (max_per_user <= capacity)
);
-- One event per custom resource: the operator finds its row by managed_by.
CREATE UNIQUE INDEX events_managed_by_key ON events.events (managed_by) WHERE managed_by IS NOT NULL;
-- The public list: published events by start time or price, optionally by type or venue.
CREATE INDEX events_published_starts_idx ON events.events (starts_at, id) WHERE status = 'published';
CREATE INDEX events_published_price_idx ON events.events (price, starts_at, id)
    WHERE status = 'published';
CREATE INDEX events_published_type_idx ON events.events (type, starts_at, id)
    WHERE status = 'published';
-- City filters go through the venue; the admin list covers every status.
CREATE INDEX events_venue_starts_idx ON events.events (venue_id, starts_at, id);
CREATE INDEX events_starts_idx ON events.events (starts_at, id);

-- Seat figures bookings publishes (topic inventory.changed), for `available=true`.
CREATE TABLE events.availability (
    event_id    bigint      PRIMARY KEY,
    version     bigint      NOT NULL,
    capacity    integer     NOT NULL,
    sold        integer     NOT NULL,
    held        integer     NOT NULL,
    available   integer     NOT NULL,
    on_sale     boolean     NOT NULL,
    sold_out    boolean     NOT NULL,
    status      text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The transactional outbox (docs/outbox.md).
CREATE TABLE events.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer        text        NOT NULL,
    topic           text        NOT NULL,
    key             text        NOT NULL,
    version         bigint      NOT NULL,
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX outbox_pending_idx ON events.outbox (consumer, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_pending_key_idx ON events.outbox (consumer, key, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON events.outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- Messages already applied from other services' outboxes (docs/outbox.md).
CREATE TABLE events.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);
