-- The organiser cancelled the event: cancel up to p_limit of its held and confirmed
-- bookings in one transaction under the event's lock, oldest first, skipping rows a
-- confirmation has locked (a later batch takes them). Their seats return, their tickets
-- are voided, each emits booking.changed 'cancelled', and each paid confirmed booking
-- gets its refund ('event_cancelled'). Set-based, so a batch holds the lock briefly;
-- bookings/event_cancellation.py calls it until the event has no active booking left.
-- Returns how many were cancelled and refunded, the lock wait and how long it was held.
CREATE OR REPLACE FUNCTION bookings.cancel_event_bookings(
    p_event_id bigint, p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    p_limit integer,
    OUT cancelled integer, OUT refunds integer, OUT lock_wait_s double precision,
    OUT lock_held_s double precision, OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    locked_at timestamptz;
    rows bookings.bookings[];
    confirmed bookings.bookings[];
    e bookings.waitlist_entries;
BEGIN
    cancelled := 0;
    refunds := 0;
    lock_wait_s := (bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms)).lock_wait_s;
    locked_at := clock_timestamp();
    IF NOT EXISTS (SELECT 1 FROM bookings.inventory
                   WHERE event_id = p_event_id AND status = 'cancelled') THEN
        lock_held_s := extract(epoch FROM clock_timestamp() - locked_at);
        RETURN;
    END IF;
    WITH batch AS (
        SELECT id, status FROM bookings.bookings
        WHERE event_id = p_event_id AND status IN ('held', 'confirmed')
        ORDER BY id LIMIT p_limit
        FOR UPDATE SKIP LOCKED),
    changed AS (
        UPDATE bookings.bookings b
        SET status = 'cancelled', cancelled_at = now(), version = b.version + 1
        FROM batch WHERE b.id = batch.id
        RETURNING b, batch.status AS was)
    SELECT coalesce(array_agg(c.b ORDER BY (c.b).id), '{}'),
           coalesce(array_agg(c.b ORDER BY (c.b).id) FILTER (WHERE c.was = 'confirmed'), '{}')
    INTO rows, confirmed FROM changed c;
    cancelled := coalesce(array_length(rows, 1), 0);
    IF cancelled > 0 THEN
        PERFORM bookings.release_seats(
            p_event_id, (SELECT sum(quantity)::integer FROM unnest(rows)));
        PERFORM bookings.free_booking_seats(p_event_id, ARRAY(SELECT id FROM unnest(rows)));
        UPDATE bookings.tickets SET status = 'void', voided_at = now()
        WHERE booking_id = ANY (ARRAY(SELECT id FROM unnest(rows))) AND status = 'valid';
        UPDATE bookings.inventory_sold s SET sold = s.sold - t.seats
        FROM (SELECT bookings.sold_shard(r.id) AS shard, sum(r.quantity)::integer AS seats
              FROM unnest(confirmed) r GROUP BY 1) t
        WHERE s.event_id = p_event_id AND s.shard = t.shard;
        -- An open waitlist offer ends with its booking.
        FOR e IN UPDATE bookings.waitlist_entries w
                 SET status = 'expired', updated_at = now(), version = w.version + 1
                 WHERE w.id = ANY (ARRAY(SELECT waitlist_entry_id FROM unnest(rows)))
                   AND w.status = 'offered'
                 RETURNING w.*
        LOOP
            PERFORM bookings.emit_waitlist(e, 'offer_expired');
        END LOOP;
        PERFORM bookings.emit_booking(r, 'cancelled') FROM unnest(rows) r;
        refunds := bookings.create_refunds(confirmed, 'event_cancelled');
        published := bookings.publish_locked(p_event_id);
    END IF;
    lock_held_s := extract(epoch FROM clock_timestamp() - locked_at);
END
$$;
