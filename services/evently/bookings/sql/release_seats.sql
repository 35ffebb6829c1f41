-- A seated event's seats of these bookings are free again (cancel, expiry, event
-- cancellation); returns how many. The caller holds the event's lock. The freed rows and
-- the event's seating get the next stamp (migration 0014), so pickers read them, and
-- the seats are noted for the next publication (migration 0017).
CREATE OR REPLACE FUNCTION bookings.free_booking_seats(p_event_id bigint, p_booking_ids bigint[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    stamp bigint;
    freed integer;
    seat_ids text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM bookings.event_seating WHERE event_id = p_event_id) THEN
        RETURN 0;
    END IF;
    stamp := nextval('bookings.seat_changes');
    WITH released AS (
        UPDATE bookings.event_seats SET status = 'free', booking_id = NULL, changed = stamp
        WHERE booking_id = ANY (p_booking_ids) AND event_id = p_event_id
        RETURNING seat_id
    )
    SELECT array_agg(seat_id) INTO seat_ids FROM released;
    freed := coalesce(cardinality(seat_ids), 0);
    IF freed > 0 THEN
        UPDATE bookings.event_seating SET seat_changes = stamp WHERE event_id = p_event_id;
        PERFORM bookings.note_seat_changes(p_event_id, seat_ids);
    END IF;
    RETURN freed;
END
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
