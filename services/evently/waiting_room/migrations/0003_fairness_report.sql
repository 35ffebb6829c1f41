-- What the fairness report needs beyond the queue tickets (docs/waiting-room.md, "Fairness
-- report"): who bought, from bookings' booking.changed, and the joins the room refused.

-- One row per visitor and event: how many of their bookings went through each transition
-- (a counter per transition, applied once per message by the inbox). Kept for every
-- event, so a room switched on late still knows who bought before.
CREATE TABLE waiting_room.buyers (
    event_id           bigint      NOT NULL,
    user_id            bigint      NOT NULL,
    held               integer     NOT NULL DEFAULT 0,
    confirmed          integer     NOT NULL DEFAULT 0,
    cancelled          integer     NOT NULL DEFAULT 0,
    expired            integer     NOT NULL DEFAULT 0,
    first_held_at      timestamptz,
    first_confirmed_at timestamptz,
    PRIMARY KEY (event_id, user_id)
);

-- Joins the room refused, by refusal code (only for events that have a room).
CREATE TABLE waiting_room.join_refusals (
    event_id      bigint      NOT NULL REFERENCES waiting_room.rooms (event_id),
    code          text        NOT NULL,
    refused       bigint      NOT NULL DEFAULT 0,
    last_at       timestamptz NOT NULL,
    PRIMARY KEY (event_id, code)
);
