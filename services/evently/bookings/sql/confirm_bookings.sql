-- Confirm held bookings ("paid"), a batch of requests in one transaction (the service
-- gathers concurrent confirmations). Touches only the bookings, sold-seat shard rows
-- and, for offers, their waitlist entries (and a seated booking's seat rows, which only
-- it may change while it holds them): never the hot inventory row. Rows are locked
-- in booking-id order and shard rows in (event, shard) order, so concurrent batches
-- cannot deadlock. Returns one row per request, in order: the outcome (see
-- bookings/outcomes.py), the booking (unless not found) and its event.
CREATE OR REPLACE FUNCTION bookings.confirm_bookings(
    p_booking_ids bigint[], p_user_ids bigint[], p_payment_references text[],
    p_lock_timeout_ms integer)
RETURNS TABLE (outcome text, booking bookings.bookings, event_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(array_length(p_booking_ids, 1), 0);
    outcomes text[] := array_fill(NULL::text, ARRAY[n]);
    found_bookings bookings.bookings[] := array_fill(NULL::bookings.bookings, ARRAY[n]);
    events bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    sold_events bigint[] := '{}';
    sold_shards smallint[] := '{}';
    sold_seats integer[] := '{}';
    noted_events bigint[] := '{}';
    noted_seats text[] := '{}';
    r record;
    b bookings.bookings;
    e bookings.waitlist_entries;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
    FOR r IN SELECT t.id, t.n FROM unnest(p_booking_ids) WITH ORDINALITY AS t(id, n)
             ORDER BY t.id, t.n
    LOOP
        UPDATE bookings.bookings bk
        SET status = 'confirmed', confirmed_at = now(), version = bk.version + 1,
            payment_reference = p_payment_references[r.n]
        WHERE bk.id = r.id AND bk.user_id = p_user_ids[r.n] AND bk.status = 'held'
          AND bk.hold_expires_at > now()
          AND NOT EXISTS (SELECT 1 FROM bookings.inventory i
                          WHERE i.event_id = bk.event_id AND i.status = 'cancelled')
        RETURNING * INTO b;
        IF NOT FOUND THEN
            SELECT * INTO b FROM bookings.bookings WHERE id = r.id;
            IF NOT FOUND OR b.user_id <> p_user_ids[r.n] THEN
                outcomes[r.n] := 'booking_not_found';
                CONTINUE;
            END IF;
            events[r.n] := b.event_id;
            found_bookings[r.n] := b;
            outcomes[r.n] := CASE
                WHEN b.status = 'confirmed' THEN 'already_confirmed'
                WHEN b.status = 'expired' OR b.hold_expires_at <= now() THEN 'hold_expired'
                WHEN b.status = 'held' THEN 'event_cancelled'
                ELSE 'booking_not_confirmable'
            END;
            CONTINUE;
        END IF;
        IF b.seats <> '[]' THEN
            -- A seated booking's seats are sold with it (their rows are this booking's).
            WITH sold AS (
                UPDATE bookings.event_seats SET status = 'sold'
                WHERE event_id = b.event_id AND booking_id = b.id AND status = 'held'
                RETURNING seat_id
            )
            SELECT noted_events || array_fill(b.event_id, ARRAY[count(*)::integer]),
                   noted_seats || array_agg(seat_id)
            INTO noted_events, noted_seats FROM sold;
        END IF;
        sold_events := sold_events || b.event_id;
        sold_shards := sold_shards || bookings.sold_shard(b.id);
        sold_seats := sold_seats || b.quantity;
        IF b.waitlist_entry_id IS NOT NULL THEN
            UPDATE bookings.waitlist_entries
            SET status = 'converted', updated_at = now(), version = version + 1
            WHERE id = b.waitlist_entry_id AND status = 'offered'
            RETURNING * INTO e;
            IF FOUND THEN
                PERFORM bookings.emit_waitlist(e, 'converted');
            END IF;
        END IF;
        PERFORM bookings.emit_booking(b, 'confirmed');
        outcomes[r.n] := 'confirmed';
        found_bookings[r.n] := b;
        events[r.n] := b.event_id;
    END LOOP;
    IF array_length(sold_events, 1) > 0 THEN
        INSERT INTO bookings.inventory_sold AS s (event_id, shard, sold)
        SELECT t.ev, t.sh, sum(t.q) FROM unnest(sold_events, sold_shards, sold_seats) AS t(ev, sh, q)
        GROUP BY t.ev, t.sh ORDER BY t.ev, t.sh
        ON CONFLICT (event_id, shard) DO UPDATE SET sold = s.sold + excluded.sold;
    END IF;
    -- The seats sold, noted for the next publication (migration 0017): one entry per
    -- event of the batch.
    PERFORM bookings.note_seat_changes(t.event_id, array_agg(t.seat_id))
    FROM unnest(noted_events, noted_seats) AS t(event_id, seat_id)
    GROUP BY t.event_id;
    RETURN QUERY SELECT outcomes[i], found_bookings[i], events[i] FROM generate_series(1, n) AS i;
END
$$;
