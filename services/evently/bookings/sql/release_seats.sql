-- Seats come back (cancel, expiry, declined offer). A capacity that was clamped above
-- its target shrinks back towards it instead of reselling the returned seats.
CREATE OR REPLACE FUNCTION bookings.release_seats(p_event_id bigint, p_seats integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE bookings.inventory
    SET reserved = reserved - p_seats,
        capacity = greatest(target_capacity, reserved - p_seats)
    WHERE event_id = p_event_id
$$;
