-- Leave the line; leaving with an open offer declines it (its seats go to the next in
-- line). Outcomes: left, not_waitlisted.
CREATE OR REPLACE FUNCTION bookings.leave_waitlist(
    p_event_id bigint, p_user_id bigint,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT entry bookings.waitlist_entries, OUT place_in_line integer,
    OUT lock_wait_s double precision, OUT offers integer,
    OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    e bookings.waitlist_entries;
    b bookings.bookings;
BEGIN
    offers := 0;
    lock_wait_s := (bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms)).lock_wait_s;
    SELECT * INTO e FROM bookings.waitlist_entries
    WHERE event_id = p_event_id AND user_id = p_user_id AND status IN ('waiting', 'offered')
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_waitlisted';
        RETURN;
    END IF;
    IF e.status = 'offered' THEN
        UPDATE bookings.bookings
        SET status = 'cancelled', cancelled_at = now(), version = version + 1
        WHERE id = e.booking_id AND status = 'held'
        RETURNING * INTO b;
        IF FOUND THEN
            PERFORM bookings.free_booking_seats(p_event_id, ARRAY[b.id]);
            PERFORM bookings.release_seats(p_event_id, b.quantity);
            PERFORM bookings.emit_booking(b, 'cancelled');
        END IF;
    END IF;
    UPDATE bookings.waitlist_entries
    SET status = 'left', updated_at = now(), version = version + 1
    WHERE id = e.id RETURNING * INTO e;
    PERFORM bookings.emit_waitlist(e, 'left');
    offers := bookings.promote_waitlist(p_event_id);
    published := bookings.publish_locked(p_event_id);
    outcome := 'left';
    entry := e;
    place_in_line := bookings.waitlist_position(e);
END
$$;
