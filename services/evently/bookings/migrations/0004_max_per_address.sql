-- The per-address hold limit (event.changed's max_per_address): the inventory keeps the
-- limit, and each hold of an event that has one records the client address it came
-- from. Kept beside bookings.bookings, not in it, so the booking row (and everything
-- rendered from it) does not change. The signatures of the two functions that take the
-- new values change, so their old versions are dropped here; sql/ defines the new ones.
ALTER TABLE bookings.inventory
    ADD COLUMN max_per_address integer CHECK (max_per_address >= 1);

CREATE TABLE bookings.hold_addresses (
    booking_id bigint PRIMARY KEY REFERENCES bookings.bookings (id) ON DELETE CASCADE,
    event_id   bigint NOT NULL,
    address    text   NOT NULL
);
CREATE INDEX hold_addresses_event_address_idx ON bookings.hold_addresses (event_id, address);

DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer);
DROP FUNCTION IF EXISTS bookings.apply_event_changed(
    bigint, bigint, text, integer, timestamptz, timestamptz, timestamptz, timestamptz,
    integer, integer, boolean, integer, numeric, text, integer[], integer[], integer);
