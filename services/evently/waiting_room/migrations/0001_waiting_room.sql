-- The waiting room keeps its own copy of each event's room settings (from event.changed)
-- and sold-out state (from inventory.changed), and the visitors' queue tickets.

CREATE TABLE waiting_room.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);

-- One row per event that has (or had) a room. ``serving`` is the highest queue position
-- admitted so far; ``next_position`` the last position handed out; ``state_version``
-- grows with every change a visitor can see (what the status poll's ETag names).
CREATE TABLE waiting_room.rooms (
    event_id                  bigint           PRIMARY KEY,
    event_version             bigint           NOT NULL,
    enabled                   boolean          NOT NULL,
    sale_opens_at             timestamptz,
    prequeue_opens_at         timestamptz,
    admission_rate_per_minute integer          NOT NULL CHECK (admission_rate_per_minute > 0),
    max_active_shoppers       integer          NOT NULL CHECK (max_active_shoppers > 0),
    session_ttl_s             integer          NOT NULL CHECK (session_ttl_s > 0),
    when_sold_out             text             NOT NULL,
    inventory_version         bigint           NOT NULL DEFAULT 0,
    sold_out                  boolean          NOT NULL DEFAULT false,
    -- The shuffle's secret until it is done: its SHA-256 is published from the start.
    seed                      bytea            NOT NULL,
    seed_commitment           text             NOT NULL,
    shuffled_at               timestamptz,
    prequeued                 integer          NOT NULL DEFAULT 0,
    next_position             bigint           NOT NULL DEFAULT 0,
    serving                   bigint           NOT NULL DEFAULT 0,
    admitted                  bigint           NOT NULL DEFAULT 0,
    -- Admissions earned by elapsed time but not yet used (fractional; the ticker's clock).
    admission_credit          double precision NOT NULL DEFAULT 0,
    last_tick_at              timestamptz,
    state_version             bigint           NOT NULL DEFAULT 1,
    created_at                timestamptz      NOT NULL DEFAULT now(),
    updated_at                timestamptz      NOT NULL DEFAULT now()
);

-- One queue ticket per visitor and event. ``position`` is NULL while the ticket waits in
-- the pre-queue (the shuffle at sale opening gives it one).
CREATE TABLE waiting_room.tickets (
    id            bigserial   PRIMARY KEY,
    event_id      bigint      NOT NULL REFERENCES waiting_room.rooms (event_id),
    user_id       bigint      NOT NULL,
    status        text        NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'admitted', 'expired')),
    prequeue      boolean     NOT NULL,
    position      bigint,
    joined_at     timestamptz NOT NULL,
    admitted_at   timestamptz,
    expires_at    timestamptz,
    UNIQUE (event_id, user_id),
    UNIQUE (event_id, position)
);

CREATE INDEX tickets_waiting ON waiting_room.tickets (event_id, position)
    WHERE status = 'waiting';
CREATE INDEX tickets_admitted ON waiting_room.tickets (event_id, expires_at)
    WHERE status = 'admitted';
