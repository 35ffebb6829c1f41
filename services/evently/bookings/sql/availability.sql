-- An event's seat counts and waitlist length: what inventory.changed carries (without
-- its version), what the publisher compares with the state it published last, and what
-- every stream message shows, so a join or a departure from the line is a change that
-- is published like any other. available and sold_out are the public's: seats kept back
-- for a channel are not in them (sql/kept_back.sql).
CREATE OR REPLACE FUNCTION bookings.inventory_state(inv bookings.inventory, p_sold integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'event_id', inv.event_id, 'capacity', inv.capacity,
        'sold', p_sold, 'held', inv.reserved - p_sold,
        'available', greatest(f.public_free, 0),
        'on_sale', bookings.sale_state(inv) = 'on_sale',
        'sold_out', f.public_free <= 0,
        'status', inv.status,
        'waitlisted', (SELECT count(*) FROM bookings.waitlist_entries w
                       WHERE w.event_id = inv.event_id AND w.status = 'waiting'))
    FROM (SELECT bookings.public_free_seats(inv) AS public_free) f
$$;

-- Live availability (the internal endpoint and the stream's first message), one row;
-- available and sold_out as in inventory_state.
CREATE OR REPLACE FUNCTION bookings.availability(p_event_id bigint)
RETURNS TABLE (event_id bigint, capacity integer, sold integer, held integer,
               available integer, on_sale boolean, sold_out boolean, status text,
               waitlisted integer, version bigint)
LANGUAGE sql STABLE AS $$
    SELECT i.event_id, i.capacity, s.sold, i.reserved - s.sold,
           greatest(f.public_free, 0), bookings.sale_state(i) = 'on_sale',
           f.public_free <= 0, i.status,
           (SELECT count(*)::integer FROM bookings.waitlist_entries w
            WHERE w.event_id = i.event_id AND w.status = 'waiting'),
           i.version
    FROM bookings.inventory i, LATERAL (SELECT bookings.sold_seats(i.event_id) AS sold) s,
         LATERAL (SELECT bookings.public_free_seats(i) AS public_free) f
    WHERE i.event_id = p_event_id
$$;

-- A seated event's live availability with its seats as of its last published version
-- (bookings.publish_seat_changes): what an availability stream's snapshot shows, and
-- what its diffs start from. One statement, so the version and the seats agree. No row
-- for a general-admission event.
CREATE OR REPLACE FUNCTION bookings.published_seats(p_event_id bigint)
RETURNS TABLE (event_id bigint, capacity integer, sold integer, held integer,
               available integer, on_sale boolean, sold_out boolean, status text,
               waitlisted integer, version bigint,
               held_seats text[], sold_seats text[], blocked_seats text[])
LANGUAGE sql STABLE AS $$
    SELECT a.*, s.held_seats, s.sold_seats, s.blocked_seats
    FROM bookings.availability(p_event_id) a,
         LATERAL (
             SELECT coalesce(array_agg(e.seat_id ORDER BY e.seat_id)
                                 FILTER (WHERE e.published_status = 'held'), '{}') AS held_seats,
                    coalesce(array_agg(e.seat_id ORDER BY e.seat_id)
                                 FILTER (WHERE e.published_status = 'sold'), '{}') AS sold_seats,
                    coalesce(array_agg(e.seat_id ORDER BY e.seat_id)
                                 FILTER (WHERE e.status = 'blocked'), '{}') AS blocked_seats
             FROM bookings.event_seats e WHERE e.event_id = p_event_id) s
    WHERE EXISTS (SELECT 1 FROM bookings.event_seating g WHERE g.event_id = p_event_id)
$$;

-- A seated event's seats that are not free now (GET /internal/events/{id}/seats, which
-- the events service draws in the event's SVG), with its last published version. No
-- row for a general-admission or unknown event.
CREATE OR REPLACE FUNCTION bookings.live_seat_status(p_event_id bigint)
RETURNS TABLE (event_id bigint, version bigint, held text[], sold text[])
LANGUAGE sql STABLE AS $$
    SELECT i.event_id, i.version,
           coalesce(array_agg(e.seat_id ORDER BY e.seat_id)
                        FILTER (WHERE e.status = 'held'), '{}'),
           coalesce(array_agg(e.seat_id ORDER BY e.seat_id)
                        FILTER (WHERE e.status = 'sold'), '{}')
    FROM bookings.inventory i
    JOIN bookings.event_seating g ON g.event_id = i.event_id
    LEFT JOIN bookings.event_seats e
           ON e.event_id = i.event_id AND e.status IN ('held', 'sold')
    WHERE i.event_id = p_event_id
    GROUP BY i.event_id, i.version
$$;
