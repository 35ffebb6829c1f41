-- Numbered 0009: 0007 and 0008 are check-in and refunds on main (numbers may leave gaps).
-- Which events' holds need a waiting room admission token (docs/waiting-room.md): from
-- event.changed's waiting_room settings. Each replica keeps the required set in memory.
CREATE TABLE bookings.waiting_rooms (
    event_id bigint  PRIMARY KEY,
    version  bigint  NOT NULL,
    required boolean NOT NULL
);
