-- Best-available reads what changed, not every taken seat (docs/seating.md, "How the
-- picker reads the seats"): each transition of a seat between free and taken (a hold, a
-- release, a new seating) stamps the seat row with the next value of one sequence and
-- records it on the event's seating row, under the event's lock, so the stamps of one
-- event grow in commit order. A replica that read the event at stamp C reads only the
-- rows stamped above C next time.
CREATE SEQUENCE bookings.seat_changes;
ALTER TABLE bookings.event_seating ADD COLUMN seat_changes bigint NOT NULL DEFAULT 0;
ALTER TABLE bookings.event_seats ADD COLUMN changed bigint NOT NULL DEFAULT 0;
CREATE INDEX event_seats_changed_idx ON bookings.event_seats (event_id, changed);
