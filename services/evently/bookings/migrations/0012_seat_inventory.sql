-- Reserved seating, bookings' side (issue 18 step 2, docs/seating.md): the seat map
-- versions bookings fetched from the events service (once per version: a version never
-- changes), which version each seated event sells, and one row per seat of each seated
-- event. A booking keeps the seats it was made with (bookings.bookings.seats).

-- A fetched version, complete: its seats were stored in the same transaction.
CREATE TABLE bookings.seat_map_versions (
    map_id         bigint      NOT NULL,
    map_version    integer     NOT NULL,
    seats          integer     NOT NULL,
    sellable_seats integer     NOT NULL,
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (map_id, map_version)
);

-- Every seat of a fetched version, as core.seat_maps.resolved_seats yields it (zone
-- and rank resolved), in document order (position).
CREATE TABLE bookings.seat_map_seats (
    map_id      bigint           NOT NULL,
    map_version integer          NOT NULL,
    seat_id     text             NOT NULL,
    position    integer          NOT NULL,
    label       text             NOT NULL,
    section     text             NOT NULL,
    row_id      text             NOT NULL,
    rank        integer          NOT NULL,
    zone        text             NOT NULL,
    x           double precision NOT NULL,
    y           double precision NOT NULL,
    flags       text[]           NOT NULL DEFAULT '{}',
    PRIMARY KEY (map_id, map_version, seat_id),
    FOREIGN KEY (map_id, map_version) REFERENCES bookings.seat_map_versions ON DELETE CASCADE
);

-- The version a seated event sells (no row: general admission).
CREATE TABLE bookings.event_seating (
    event_id    bigint  PRIMARY KEY,
    map_id      bigint  NOT NULL,
    map_version integer NOT NULL,
    FOREIGN KEY (map_id, map_version) REFERENCES bookings.seat_map_versions
);

-- One row per seat of a seated event. The primary key makes a seat one row, and a row
-- names at most one booking: a seat can never belong to two live bookings. A seat is
-- taken only by a transition guarded by status = 'free' (sql/hold_seats.sql); blocked
-- seats are never sellable.
CREATE TABLE bookings.event_seats (
    event_id   bigint NOT NULL,
    seat_id    text   NOT NULL,
    status     text   NOT NULL CHECK (status IN ('free', 'held', 'sold', 'blocked')),
    booking_id bigint,
    PRIMARY KEY (event_id, seat_id),
    CONSTRAINT event_seat_taken_by_one_booking
        CHECK ((booking_id IS NOT NULL) = (status IN ('held', 'sold')))
) WITH (fillfactor = 70);
CREATE INDEX event_seats_booking_idx ON bookings.event_seats (booking_id)
    WHERE booking_id IS NOT NULL;

-- The seats a booking was made with, as JSON text ([{id, label, section, row, zone}];
-- [] for general admission). They never change; the seat rows above say which are
-- still taken. Text, not jsonb: the functions return whole bookings.bookings rows, and
-- asyncpg cannot decode a composite with a field its text-format jsonb codec handles.
ALTER TABLE bookings.bookings ADD COLUMN seats text NOT NULL DEFAULT '[]';
