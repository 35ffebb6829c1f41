-- Confirmed seats live in 16 shard rows per event; a booking always uses the same one.
CREATE OR REPLACE FUNCTION bookings.sold_shard(p_booking_id bigint) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_booking_id % 16)::smallint $$;

CREATE OR REPLACE FUNCTION bookings.sold_seats(p_event_id bigint) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(sold), 0)::integer FROM bookings.inventory_sold WHERE event_id = p_event_id
$$;
