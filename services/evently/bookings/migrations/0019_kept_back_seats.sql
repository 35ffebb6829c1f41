-- The free seats kept back for a channel, per event (sql/kept_back.sql): every
-- publication counts them, so they are read from this small partial index instead of
-- the event's seat rows. Seats without a channel are never in it.
CREATE INDEX event_seats_kept_back ON bookings.event_seats (event_id)
    WHERE channel IS NOT NULL AND status = 'free';
