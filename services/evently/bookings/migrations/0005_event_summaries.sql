-- What bookings shows of each event beside a booking (GET /api/v1/bookings): its name,
-- start and venue, from event.changed (sql/event_summaries.sql applies them). Kept apart
-- from bookings.inventory, the hot row every hold updates, so that row stays narrow.
-- Events that changed before this migration have no summary until their next
-- event.changed; until then a booking shows "event": null.
CREATE TABLE bookings.event_summaries (
    event_id   bigint      PRIMARY KEY,
    version    bigint      NOT NULL,
    name       text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    venue_name text        NOT NULL,
    venue_city text        NOT NULL
);
