-- Idle-session detection (docs/waiting-room.md, "Sessions end early"): what bookings'
-- booking.changed says an admitted visitor did. ``open_holds``: their holds not yet
-- confirmed, expired or cancelled; ``last_active_at``: their newest booking transition;
-- ``purchased``: they confirmed a booking. A session ended by a purchase is 'completed'.
ALTER TABLE waiting_room.tickets
    ADD COLUMN open_holds     integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_active_at timestamptz,
    ADD COLUMN purchased      boolean     NOT NULL DEFAULT false,
    DROP CONSTRAINT tickets_status_check,
    ADD CONSTRAINT tickets_status_check
        CHECK (status IN ('waiting', 'admitted', 'expired', 'completed'));

-- Seats held per visitor (the sum of their holds' quantities): the seats a buyer wants,
-- on average, so admission can leave room for shoppers who have not held yet.
ALTER TABLE waiting_room.buyers ADD COLUMN held_seats integer NOT NULL DEFAULT 0;
