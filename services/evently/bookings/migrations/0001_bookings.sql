-- The bookings service's schema: inventory per event, bookings, idempotency keys,
-- the waitlist, and the outbox/inbox of docs/outbox.md.

-- One row per event, fed by the events service's event.changed messages. This is the
-- hot row of a flash sale: only holds, releases (cancel, expiry) and offers change
-- `reserved`; confirmations never touch it (they count sold seats in inventory_sold).
CREATE TABLE bookings.inventory (
    event_id                   bigint      PRIMARY KEY,
    event_version              bigint      NOT NULL,
    status                     text        NOT NULL
        CHECK (status IN ('draft', 'published', 'cancelled', 'completed')),
    target_capacity            integer     NOT NULL CHECK (target_capacity >= 0),
    -- Seats that exist: target_capacity, unless a reduction arrived below what is
    -- already reserved (then it is clamped to reserved and shrinks as seats come back).
    capacity                   integer     NOT NULL,
    reserved                   integer     NOT NULL DEFAULT 0,   -- held + sold
    starts_at                  timestamptz,
    ends_at                    timestamptz,
    sale_opens_at              timestamptz,
    sale_closes_at             timestamptz,
    max_per_user               integer,
    hold_ttl_seconds           integer     NOT NULL DEFAULT 600,
    waitlist_enabled           boolean     NOT NULL DEFAULT true,
    waitlist_offer_ttl_seconds integer     NOT NULL DEFAULT 900,
    unit_price                 numeric(12, 2) NOT NULL DEFAULT 0,
    currency                   text        NOT NULL DEFAULT 'EUR',
    -- The inventory aggregate's version and the state last published with it
    -- (inventory.changed and the availability stream).
    version                    bigint      NOT NULL DEFAULT 0,
    published                  jsonb,
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inventory_reserved_not_negative CHECK (reserved >= 0),
    -- The last line of defence: sold + held (= reserved) never exceeds capacity.
    CONSTRAINT inventory_sold_plus_held_within_capacity CHECK (reserved <= capacity)
) WITH (fillfactor = 50);

-- Confirmed seats per event, spread over a few shard rows so that concurrent
-- confirmations neither queue on each other nor on the hot inventory row.
CREATE TABLE bookings.inventory_sold (
    event_id bigint   NOT NULL,
    shard    smallint NOT NULL,
    sold     integer  NOT NULL CHECK (sold >= 0),
    PRIMARY KEY (event_id, shard)
) WITH (fillfactor = 50);

CREATE TABLE bookings.bookings (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          bigint      NOT NULL,
    user_id           bigint      NOT NULL,
    quantity          integer     NOT NULL CHECK (quantity > 0),
    status            text        NOT NULL
        CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired')),
    unit_price        numeric(12, 2) NOT NULL,
    currency          text        NOT NULL,
    hold_expires_at   timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    confirmed_at      timestamptz,
    cancelled_at      timestamptz,
    expired_at        timestamptz,
    waitlist_entry_id bigint,
    payment_reference text,
    version           integer     NOT NULL DEFAULT 1
);
CREATE INDEX bookings_user_idx ON bookings.bookings (user_id, id DESC);
-- Per-user limits count the user's held and confirmed seats for the event.
CREATE INDEX bookings_active_per_user_idx ON bookings.bookings (event_id, user_id)
    INCLUDE (quantity) WHERE status IN ('held', 'confirmed');
-- The expiry sweeper finds expired holds through this one.
CREATE INDEX bookings_held_expiry_idx ON bookings.bookings (hold_expires_at, event_id)
    WHERE status = 'held';

-- Idempotency-Key records, per user, kept 24 h: the stored response of a completed hold.
CREATE TABLE bookings.idempotency_keys (
    user_id      bigint      NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL,
    response     jsonb       NOT NULL,
    booking_id   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON bookings.idempotency_keys (created_at);

CREATE TABLE bookings.waitlist_entries (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint      NOT NULL,
    user_id          bigint      NOT NULL,
    quantity         integer     NOT NULL CHECK (quantity > 0),
    status           text        NOT NULL
        CHECK (status IN ('waiting', 'offered', 'converted', 'expired', 'left')),
    offer_expires_at timestamptz,
    booking_id       bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer     NOT NULL DEFAULT 1
);
-- One active entry per user and event.
CREATE UNIQUE INDEX waitlist_one_active_entry_per_user
    ON bookings.waitlist_entries (event_id, user_id) WHERE status IN ('waiting', 'offered');
-- The line, in join order.
CREATE INDEX waitlist_queue_idx ON bookings.waitlist_entries (event_id, id)
    WHERE status = 'waiting';

CREATE TABLE bookings.outbox (
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
CREATE INDEX outbox_pending_idx ON bookings.outbox (consumer, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_pending_key_idx ON bookings.outbox (consumer, key, id)
    WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON bookings.outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;

CREATE TABLE bookings.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);
