-- The inventory.changed payload (without its version): the state every stream message,
-- the internal endpoint and the consumers see, waitlist length included, so a join or a
-- departure from the line is a change that is published like any other.
CREATE OR REPLACE FUNCTION bookings.availability_json(inv bookings.inventory, p_sold integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
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

-- Live availability (the internal endpoint and the stream's first message).
CREATE OR REPLACE FUNCTION bookings.availability(p_event_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT bookings.availability_json(i, bookings.sold_seats(i.event_id))
           || jsonb_build_object('version', i.version)
    FROM bookings.inventory i WHERE i.event_id = p_event_id
$$;
