-- Seats kept back for a channel (docs/seating.md, "Channel allocations"): a free seat
-- with a channel cannot be bought by the public, so the public figures (available,
-- sold_out: what the streams, the events API and the waiting room's admission read)
-- leave it out. Read through the partial index of migration 0019 (the channel seats).
CREATE OR REPLACE FUNCTION bookings.kept_back_seats(p_event_id bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM bookings.event_seats
    WHERE event_id = p_event_id AND channel IS NOT NULL AND status = 'free'
$$;

-- Seats the public may still hold: the free seats but those kept back for a channel.
CREATE OR REPLACE FUNCTION bookings.public_free_seats(inv bookings.inventory) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT inv.capacity - inv.reserved - bookings.kept_back_seats(inv.event_id)
$$;

-- Every seat of the event with a channel, whatever its status, sorted: the availability
-- stream shows those that are free as kept_back (availability_stream.SeatBoard).
CREATE OR REPLACE FUNCTION bookings.channel_seat_ids(p_event_id bigint) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(seat_id ORDER BY seat_id), '{}') FROM bookings.event_seats
    WHERE event_id = p_event_id AND channel IS NOT NULL
$$;
