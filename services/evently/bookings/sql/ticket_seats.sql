-- The seat a ticket admits to, on a seated event: ticket seat i of a booking is the
-- booking's i-th seat (bookings.bookings.seats, which never changes), as JSON text
-- {id, label, section, row, zone}; null for general admission. models.ticket_seat is
-- the same rule in Python (the ticket API reads the booking row it already has).
CREATE OR REPLACE FUNCTION bookings.ticket_seat(p_booking_seats text, p_seat integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_booking_seats = '[]' THEN NULL
                ELSE (p_booking_seats::jsonb -> (p_seat - 1))::text END
$$;
