-- An organiser's switch against hoarding from one client address: at most this many
-- seats on hold from one address at a time (NULL: no limit). Bookings enforces it.
ALTER TABLE events.events
    ADD COLUMN max_per_address integer CHECK (max_per_address BETWEEN 1 AND 1000);
