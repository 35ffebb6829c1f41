-- Whether holds on the event pass without an admission token while its waiting room
-- cannot be reached (when_unavailable: fail_open); false is fail closed, the default.
ALTER TABLE bookings.waiting_rooms ADD COLUMN fail_open boolean NOT NULL DEFAULT false;
