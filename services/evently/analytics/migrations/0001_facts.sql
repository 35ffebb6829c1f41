-- Analytics keeps its own facts, fed only by outbox messages through POST /internal/inbox.
-- Every table is a latest-state snapshot keyed by the aggregate id with the aggregate's
-- version, so a stale or re-delivered message never moves a fact backwards; transitions
-- that are counted (waitlist offers, booking transitions) are logged once per version.

CREATE TABLE analytics.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);

-- From events: event.changed (the event's full state).
CREATE TABLE analytics.events (
    event_id       bigint      PRIMARY KEY,
    version        bigint      NOT NULL,
    name           text        NOT NULL,
    status         text        NOT NULL,
    capacity       integer     NOT NULL,
    price          numeric(12, 2),
    currency       text,
    starts_at      timestamptz,
    ends_at        timestamptz,
    sale_opens_at  timestamptz,
    sale_closes_at timestamptz,
    created_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- From bookings: inventory.changed (the seat counts bookings itself keeps).
CREATE TABLE analytics.inventory (
    event_id   bigint      PRIMARY KEY,
    version    bigint      NOT NULL,
    capacity   integer     NOT NULL,
    sold       integer     NOT NULL,
    held       integer     NOT NULL,
    available  integer     NOT NULL,
    on_sale    boolean     NOT NULL,
    sold_out   boolean     NOT NULL,
    status     text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- From bookings: booking.changed (each booking's latest state).
CREATE TABLE analytics.bookings (
    booking_id        bigint      PRIMARY KEY,
    version           bigint      NOT NULL,
    event_id          bigint      NOT NULL,
    user_id           bigint,
    quantity          integer     NOT NULL,
    status            text        NOT NULL,
    unit_price        numeric(12, 2),
    currency          text,
    amount            numeric(14, 2),
    created_at        timestamptz NOT NULL,
    hold_expires_at   timestamptz,
    confirmed_at      timestamptz,
    cancelled_at      timestamptz,
    expired_at        timestamptz,
    waitlist_entry_id bigint,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_event_idx ON analytics.bookings (event_id, status);
CREATE INDEX bookings_created_idx ON analytics.bookings (created_at);
CREATE INDEX bookings_confirmed_idx ON analytics.bookings (confirmed_at)
    WHERE confirmed_at IS NOT NULL;

-- From bookings: waitlist.changed (each entry's latest state) and its transitions,
-- since one entry may be offered more than once.
CREATE TABLE analytics.waitlist_entries (
    entry_id         bigint      PRIMARY KEY,
    version          bigint      NOT NULL,
    event_id         bigint      NOT NULL,
    user_id          bigint,
    quantity         integer     NOT NULL,
    status           text        NOT NULL,
    offer_expires_at timestamptz,
    booking_id       bigint,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX waitlist_entries_event_idx ON analytics.waitlist_entries (event_id, status);

CREATE TABLE analytics.waitlist_transitions (
    entry_id   bigint      NOT NULL,
    version    bigint      NOT NULL,
    event_id   bigint      NOT NULL,
    transition text        NOT NULL,
    quantity   integer     NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (entry_id, version)
);
CREATE INDEX waitlist_transitions_event_idx ON analytics.waitlist_transitions (event_id, transition);
