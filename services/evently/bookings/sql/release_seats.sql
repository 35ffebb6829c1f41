-- A seated event's seats of these bookings are free again (cancel, expiry, event
-- cancellation); returns how many. The caller holds the event's lock.
CREATE OR REPLACE FUNCTION bookings.free_booking_seats(p_event_id bigint, p_booking_ids bigint[])
RETURNS integer LANGUAGE sql AS $$
    WITH freed AS (
        UPDATE bookings.event_seats SET status = 'free', booking_id = NULL
        WHERE booking_id = ANY (p_booking_ids) AND event_id = p_event_id
        RETURNING 1)
    SELECT count(*)::integer FROM freed
$$;

-- Seats come back (cancel, expiry, declined offer). A capacity that was clamped above
-- its target shrinks back towards it instead of reselling the returned seats.
CREATE OR REPLACE FUNCTION bookings.release_seats(p_event_id bigint, p_seats integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE bookings.inventory
    SET reserved = reserved - p_seats,
        capacity = greatest(target_capacity, reserved - p_seats)
    WHERE event_id = p_event_id
$$;
