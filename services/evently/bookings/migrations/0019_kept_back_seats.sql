-- The seats kept back for a channel, per event (sql/kept_back.sql): every publication
-- counts the free ones, so they are found from this small partial index instead of the
-- event's seat rows. Seats without a channel are never in it. Its predicate names only
-- the channel, which a seating change alone sets: a hold's, confirmation's or
-- publication's update of a seat's status stays in place (HOT; docs/seating.md).
CREATE INDEX event_seats_kept_back ON bookings.event_seats (event_id)
    WHERE channel IS NOT NULL;
