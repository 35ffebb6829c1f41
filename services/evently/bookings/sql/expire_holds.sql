-- Expire up to p_limit overdue holds of one event (skipping rows a confirmation has
-- locked), return their seats and offer them to the line. Safe in many replicas:
-- the event lock serialises sweepers and every row is re-checked under it.
CREATE OR REPLACE FUNCTION bookings.expire_holds(
    p_event_id bigint, p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    p_limit integer,
    OUT expired integer, OUT offers_expired integer, OUT offers integer,
    OUT lock_wait_s double precision, OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    b bookings.bookings;
    e bookings.waitlist_entries;
    released integer := 0;
    expired_ids bigint[] := '{}';
BEGIN
    expired := 0;
    offers_expired := 0;
    offers := 0;
    lock_wait_s := (bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms)).lock_wait_s;
    FOR b IN SELECT * FROM bookings.bookings
             WHERE event_id = p_event_id AND status = 'held' AND hold_expires_at <= now()
             ORDER BY hold_expires_at, id
             LIMIT p_limit
             FOR UPDATE SKIP LOCKED
    LOOP
        UPDATE bookings.bookings
        SET status = 'expired', expired_at = now(), version = version + 1
        WHERE id = b.id RETURNING * INTO b;
        released := released + b.quantity;
        expired_ids := expired_ids || b.id;
        expired := expired + 1;
        PERFORM bookings.emit_booking(b, 'expired');
        IF b.waitlist_entry_id IS NOT NULL THEN
            UPDATE bookings.waitlist_entries
            SET status = 'expired', updated_at = now(), version = version + 1
            WHERE id = b.waitlist_entry_id AND status = 'offered'
            RETURNING * INTO e;
            IF FOUND THEN
                offers_expired := offers_expired + 1;
                PERFORM bookings.emit_waitlist(e, 'offer_expired');
            END IF;
        END IF;
    END LOOP;
    IF released > 0 THEN
        PERFORM bookings.release_seats(p_event_id, released);
        PERFORM bookings.free_booking_seats(p_event_id, expired_ids);
        offers := bookings.promote_waitlist(p_event_id);
        published := bookings.publish_locked(p_event_id);
    END IF;
END
$$;
