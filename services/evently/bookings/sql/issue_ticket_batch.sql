-- Issue the tickets of many confirmed bookings in one statement: the deferred issuer's
-- batch (ticket_issuer.py). Element i of the three arrays is one seat: its booking, its
-- number and its signed code. The same rules as issue_tickets: the bookings are locked
-- FOR SHARE (in id order, so two batches never deadlock), a booking that is not (or no
-- longer, after a racing cancel) confirmed gets nothing, seats past its quantity are
-- ignored, and an existing ticket is kept. Returns how many tickets it inserted.
CREATE OR REPLACE FUNCTION bookings.issue_ticket_batch(
    p_booking_ids bigint[], p_seats integer[], p_codes text[]
)
RETURNS integer
LANGUAGE sql AS $$
    WITH confirmed AS (
        SELECT b.id, b.event_id, b.user_id, b.quantity
        FROM bookings.bookings b
        WHERE b.id = ANY (p_booking_ids) AND b.status = 'confirmed'
        ORDER BY b.id
        FOR SHARE
    ), inserted AS (
        INSERT INTO bookings.tickets (booking_id, event_id, user_id, seat, code)
        SELECT c.id, c.event_id, c.user_id, s.seat, s.code
        FROM unnest(p_booking_ids, p_seats, p_codes) AS s (booking_id, seat, code)
        JOIN confirmed c ON c.id = s.booking_id
        WHERE s.seat BETWEEN 1 AND c.quantity
        ORDER BY s.booking_id, s.seat
        -- Every unique index arbitrates, as in issue_tickets.
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer FROM inserted
$$;
