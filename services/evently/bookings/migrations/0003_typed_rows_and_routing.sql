-- Functions moved to sql/ (docs/database.md) and now return typed rows; the API bodies
-- and messages are rendered in Python. This drops what 0002 defined that sql/ no longer
-- defines or defines with another signature or result; sql/ (applied after this)
-- defines the rest.
DROP FUNCTION bookings.iso(timestamptz);
DROP FUNCTION bookings.booking_json(bookings.bookings);
DROP FUNCTION bookings.waitlist_entry_json(bookings.waitlist_entries);
DROP FUNCTION bookings.waitlist_entry_view(bookings.waitlist_entries);
DROP FUNCTION bookings.availability_json(bookings.inventory, integer);
DROP FUNCTION bookings.availability(bigint);
DROP FUNCTION bookings.emit_booking(jsonb, text);
DROP FUNCTION bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer);
DROP FUNCTION bookings.confirm_bookings(bigint[], bigint[], text[], integer);
DROP FUNCTION bookings.cancel_booking(bigint, bigint, bigint, integer[], integer[], integer);
DROP FUNCTION bookings.join_waitlist(bigint, bigint, integer, integer[], integer[], integer);
DROP FUNCTION bookings.leave_waitlist(bigint, bigint, integer[], integer[], integer);
DROP FUNCTION bookings.apply_event_changed(jsonb, bigint, integer[], integer[], integer);

-- A message is written once, without a consumer; the relay routes it to the topic's
-- consumers (core/contracts.py). Rows written before this keep their consumer.
ALTER TABLE bookings.outbox ALTER COLUMN consumer DROP NOT NULL;
