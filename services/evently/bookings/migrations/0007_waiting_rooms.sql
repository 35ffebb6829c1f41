-- Which events' holds need a waiting room admission token (docs/waiting-room.md): from
-- event.changed's waiting_room settings. Each replica keeps the required set in memory.
CREATE TABLE bookings.waiting_rooms (
    event_id bigint  PRIMARY KEY,
    version  bigint  NOT NULL,
    required boolean NOT NULL
);
