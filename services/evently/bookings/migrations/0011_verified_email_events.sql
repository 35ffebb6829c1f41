-- Numbered 0010: 0009 is the waiting rooms (numbers may leave gaps).
-- Which events' holds need a verified email (docs/bookings.md): from event.changed's
-- require_verified_email. Each replica keeps the required set in memory.
CREATE TABLE bookings.verified_email_events (
    event_id bigint  PRIMARY KEY,
    version  bigint  NOT NULL,
    required boolean NOT NULL
);
