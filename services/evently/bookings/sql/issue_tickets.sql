-- Issue the tickets of one confirmed booking: p_codes[i] is seat i's signed code.
-- Idempotent (a seat that has its ticket keeps it) and race-safe: the booking row is
-- locked FOR SHARE, and cancel_booking updates that row, so an issue and a cancel
-- serialize and no valid ticket can appear on a cancelled booking. Issues nothing unless
-- the booking is confirmed and p_codes has one code per seat. Returns the booking's
-- tickets, by seat.
CREATE OR REPLACE FUNCTION bookings.issue_tickets(p_booking_id bigint, p_codes text[])
RETURNS SETOF bookings.tickets
LANGUAGE plpgsql AS $$
DECLARE
    b bookings.bookings;
BEGIN
    SELECT * INTO b FROM bookings.bookings WHERE id = p_booking_id FOR SHARE;
    IF FOUND AND b.status = 'confirmed'
       AND coalesce(array_length(p_codes, 1), 0) = b.quantity THEN
        INSERT INTO bookings.tickets (booking_id, event_id, user_id, seat, code)
        SELECT b.id, b.event_id, b.user_id, s.seat, s.code
        FROM unnest(p_codes) WITH ORDINALITY AS s (code, seat)
        ORDER BY s.seat
        -- No conflict target: every unique index arbitrates. Two concurrent issuers
        -- insert the same (booking_id, seat) AND the same code (signatures are
        -- deterministic); with only (booking_id, seat) as arbiter, the one that meets
        -- the other on the code index first would fail instead of doing nothing.
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT * FROM bookings.tickets WHERE booking_id = p_booking_id ORDER BY seat;
END
$$;
