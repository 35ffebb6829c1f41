-- Join the line: only while the event is sold out (for that quantity) or not yet on
-- sale, and once per user. Seats kept back for a channel are not for sale to the public
-- (sql/kept_back.sql): an event with nothing else left is sold out. Returns the outcome (see bookings/outcomes.py) with the
-- entry (joined, or the one already waiting) and its place in line, or a refusal's
-- details.
CREATE OR REPLACE FUNCTION bookings.join_waitlist(
    p_event_id bigint, p_user_id bigint, p_quantity integer,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT entry bookings.waitlist_entries, OUT place_in_line integer,
    OUT details jsonb, OUT lock_wait_s double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    e bookings.waitlist_entries;
    state text;
    owned integer;
BEGIN
    lock_wait_s := (bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms)).lock_wait_s;
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    state := bookings.sale_state(inv);
    IF state IN ('event_not_found', 'event_cancelled', 'sale_closed') THEN
        outcome := state;
    ELSIF NOT bookings.waitlist_enabled(inv) THEN
        outcome := 'waitlist_disabled';
    ELSIF p_quantity < 1 OR p_quantity > bookings.max_quantity(inv) THEN
        outcome := 'quantity_out_of_range';
    ELSIF state = 'on_sale' AND bookings.public_free_seats(inv) >= p_quantity THEN
        outcome := 'waitlist_not_needed';
    END IF;
    IF outcome IS NOT NULL THEN
        details := bookings.refusal_details(inv, outcome);
        RETURN;
    END IF;
    SELECT * INTO e FROM bookings.waitlist_entries
    WHERE event_id = p_event_id AND user_id = p_user_id AND status IN ('waiting', 'offered');
    IF FOUND THEN
        outcome := 'already_waitlisted';
        entry := e;
        place_in_line := bookings.waitlist_position(e);
        RETURN;
    END IF;
    IF inv.max_per_user IS NOT NULL THEN
        owned := bookings.seats_owned(p_event_id, p_user_id);
        IF owned + p_quantity > inv.max_per_user THEN
            outcome := 'per_user_limit_exceeded';
            details := jsonb_build_object('max_per_user', inv.max_per_user,
                                          'already_booked', owned);
            RETURN;
        END IF;
    END IF;
    INSERT INTO bookings.waitlist_entries (event_id, user_id, quantity, status)
    VALUES (p_event_id, p_user_id, p_quantity, 'waiting')
    RETURNING * INTO e;
    PERFORM bookings.emit_waitlist(e, 'joined');
    -- The line grew: watchers of the event see it (the locks above cover the event).
    PERFORM bookings.publish_locked(p_event_id);
    outcome := 'joined';
    entry := e;
    place_in_line := bookings.waitlist_position(e);
END
$$;
