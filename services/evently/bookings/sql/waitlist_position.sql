-- A waiting entry's 1-based place in line (null unless it is waiting).
CREATE OR REPLACE FUNCTION bookings.waitlist_position(e bookings.waitlist_entries)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN e.status = 'waiting' THEN (
        SELECT count(*)::integer FROM bookings.waitlist_entries w
        WHERE w.event_id = e.event_id AND w.status = 'waiting' AND w.id <= e.id) END
$$;
