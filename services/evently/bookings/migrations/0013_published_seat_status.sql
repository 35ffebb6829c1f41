-- Live seat status (issue 18 step 3, docs/seating.md "Live seat status"): each seat's
-- status as of its event's last published inventory version. bookings.publish_locked
-- sends the seats whose status differs from it (a diff), then records what it sent, in
-- the transaction that bumps the version; the availability streams rebuild a seated
-- event's seats from these columns and those diffs. Blocked seats are never published
-- (a stream lists them once, with its snapshot).
ALTER TABLE bookings.event_seats
    ADD COLUMN published_status text NOT NULL DEFAULT 'free'
        CHECK (published_status IN ('free', 'held', 'sold'));
UPDATE bookings.event_seats SET published_status = status WHERE status IN ('held', 'sold');
-- The seats a publication has to send: few at a time, found without reading the map.
CREATE INDEX event_seats_unpublished_idx ON bookings.event_seats (event_id)
    WHERE status <> published_status AND status <> 'blocked';
