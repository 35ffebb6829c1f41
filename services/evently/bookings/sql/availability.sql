-- An event's seat counts and waitlist length: what inventory.changed carries (without
-- its version), what the publisher compares with the state it published last, and what
-- every stream message shows, so a join or a departure from the line is a change that
-- is published like any other.
CREATE OR REPLACE FUNCTION bookings.inventory_state(inv bookings.inventory, p_sold integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'event_id', inv.event_id, 'capacity', inv.capacity,
        'sold', p_sold, 'held', inv.reserved - p_sold,
        'available', greatest(inv.capacity - inv.reserved, 0),
        'on_sale', bookings.sale_state(inv) = 'on_sale',
        'sold_out', inv.capacity - inv.reserved <= 0,
        'status', inv.status,
        'waitlisted', (SELECT count(*) FROM bookings.waitlist_entries w
                       WHERE w.event_id = inv.event_id AND w.status = 'waiting'))
$$;

-- Live availability (the internal endpoint and the stream's first message), one row.
CREATE OR REPLACE FUNCTION bookings.availability(p_event_id bigint)
RETURNS TABLE (event_id bigint, capacity integer, sold integer, held integer,
               available integer, on_sale boolean, sold_out boolean, status text,
               waitlisted integer, version bigint)
LANGUAGE sql STABLE AS $$
    SELECT i.event_id, i.capacity, s.sold, i.reserved - s.sold,
           greatest(i.capacity - i.reserved, 0), bookings.sale_state(i) = 'on_sale',
           i.capacity - i.reserved <= 0, i.status,
           (SELECT count(*)::integer FROM bookings.waitlist_entries w
            WHERE w.event_id = i.event_id AND w.status = 'waiting'),
           i.version
    FROM bookings.inventory i, LATERAL (SELECT bookings.sold_seats(i.event_id) AS sold) s
    WHERE i.event_id = p_event_id
$$;
