-- Live seat status without an index over every seat row (docs/seating.md, "Live seat
-- status"; docs/benchmarks.md, "Publishing seat changes from a list"). Every write that
-- changes seats' status (a hold's claim, a waitlist offer, a confirmation, a release)
-- appends the seat ids it changed to this list in its own transaction; the publication
-- (under the event's lock) drains the event's entries and sends those seats whose status
-- differs from what was published. Before, the publication read a partial index on
-- event_seats (status <> published_status) that collected two dead entries per seat sold
-- during a sale (about 2,900 buffers a publication late in a 50,000-seat sale) and made
-- every seat row write non-HOT. An entry is one write of many seats, so the list holds
-- a handful of rows per event between publications.
CREATE TABLE bookings.unpublished_seats (
    event_id bigint NOT NULL,
    seat_ids text[] NOT NULL
);
CREATE INDEX unpublished_seats_event_idx ON bookings.unpublished_seats (event_id);
-- Entries live for one publication interval: vacuum the list often so that a scan of an
-- event's entries does not read the dead ones of a whole sale.
ALTER TABLE bookings.unpublished_seats
    SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);

-- The seats waiting to be published now, found once through the old index.
INSERT INTO bookings.unpublished_seats (event_id, seat_ids)
SELECT event_id, array_agg(seat_id ORDER BY seat_id)
FROM bookings.event_seats
WHERE status <> published_status AND status <> 'blocked'
GROUP BY event_id;

DROP INDEX bookings.event_seats_unpublished_idx;
