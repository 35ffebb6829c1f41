-- Cancel a held or confirmed booking; its seats return at once and go to the line
-- first, and its tickets are voided. A booking with a ticket checked in at the door
-- cannot be cancelled (it was used). Returns the outcome (see bookings/outcomes.py)
-- with the booking, or a refusal's details.
CREATE OR REPLACE FUNCTION bookings.cancel_booking(
    p_booking_id bigint, p_user_id bigint, p_event_id bigint,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT booking bookings.bookings, OUT details jsonb,
    OUT lock_wait_s double precision, OUT offers integer, OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    b bookings.bookings;
    e bookings.waitlist_entries;
    inv bookings.inventory;
    was text;
BEGIN
    offers := 0;
    lock_wait_s := (bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms)).lock_wait_s;
    SELECT * INTO b FROM bookings.bookings WHERE id = p_booking_id FOR UPDATE;
    IF NOT FOUND OR b.user_id <> p_user_id OR b.event_id <> p_event_id THEN
        outcome := 'booking_not_found';
        RETURN;
    END IF;
    IF b.status IN ('cancelled', 'expired') THEN
        outcome := CASE b.status WHEN 'cancelled' THEN 'already_cancelled'
                                 ELSE 'booking_not_cancellable' END;
        booking := b;
        RETURN;
    END IF;
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = b.event_id;
    IF inv.starts_at IS NOT NULL AND now() >= inv.starts_at THEN
        outcome := 'event_already_started';
        details := jsonb_build_object('starts_at', inv.starts_at);
        RETURN;
    END IF;
    -- Its tickets are locked before they are read, so a concurrent scan
    -- (sql/check_in_ticket.sql) either checked one in first, and the cancel is refused,
    -- or waits and then finds them void: never a used ticket on a cancelled booking.
    -- Two statements: the lock waits for a scan in progress, and the read after it
    -- (a fresh snapshot) sees what that scan committed. One statement that locks and
    -- tests checked_in_at together let a check-in through (the race test caught it):
    -- the filter judged the row as it was before the wait.
    PERFORM 1 FROM bookings.tickets WHERE booking_id = b.id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM bookings.tickets
               WHERE booking_id = b.id AND checked_in_at IS NOT NULL) THEN
        outcome := 'booking_checked_in';
        booking := b;
        RETURN;
    END IF;
    was := b.status;
    UPDATE bookings.bookings
    SET status = 'cancelled', cancelled_at = now(), version = version + 1
    WHERE id = b.id RETURNING * INTO b;
    PERFORM bookings.release_seats(b.event_id, b.quantity);
    PERFORM bookings.free_booking_seats(b.event_id, ARRAY[b.id]);
    -- In the same transaction: a cancelled booking never keeps a valid ticket.
    UPDATE bookings.tickets SET status = 'void', voided_at = now()
    WHERE booking_id = b.id AND status = 'valid';
    IF was = 'confirmed' THEN
        UPDATE bookings.inventory_sold SET sold = sold - b.quantity
        WHERE event_id = b.event_id AND shard = bookings.sold_shard(b.id);
        -- In the same transaction: a paid booking's refund is never lost.
        PERFORM bookings.create_refund(b, 'booking_cancelled');
    ELSIF b.waitlist_entry_id IS NOT NULL THEN
        -- Cancelling an offer declines it: the entry leaves the line.
        UPDATE bookings.waitlist_entries
        SET status = 'left', updated_at = now(), version = version + 1
        WHERE id = b.waitlist_entry_id AND status = 'offered'
        RETURNING * INTO e;
        IF FOUND THEN
            PERFORM bookings.emit_waitlist(e, 'left');
        END IF;
    END IF;
    PERFORM bookings.emit_booking(b, 'cancelled');
    offers := bookings.promote_waitlist(b.event_id);
    published := bookings.publish_locked(b.event_id);
    outcome := 'cancelled';
    booking := b;
END
$$;
