-- From bookings: ticket.checked_in (a ticket's first valid scan at the door). A ticket is
-- checked in once, so a row is never updated; a re-delivery changes nothing.
CREATE TABLE analytics.checkins (
    ticket_id     bigint      PRIMARY KEY,
    event_id      bigint      NOT NULL,
    booking_id    bigint      NOT NULL,
    seat          integer     NOT NULL,
    gate          text        NOT NULL,
    checked_in_at timestamptz NOT NULL
);
CREATE INDEX checkins_event_idx ON analytics.checkins (event_id, checked_in_at);
