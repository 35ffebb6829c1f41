-- Offer free seats to the line in join order; each offer is a held booking for the
-- offer TTL, so general buyers can never take those seats. The caller holds the
-- event's advisory lock. Returns the number of offers made.
CREATE OR REPLACE FUNCTION bookings.promote_waitlist(p_event_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    e bookings.waitlist_entries;
    b bookings.bookings;
    free integer;
    q integer;
    offered_seats integer := 0;
    offers integer := 0;
BEGIN
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF NOT FOUND OR NOT bookings.waitlist_enabled(inv) OR bookings.sale_state(inv) <> 'on_sale' THEN
        RETURN 0;
    END IF;
    free := inv.capacity - inv.reserved;
    IF free <= 0 THEN
        RETURN 0;
    END IF;
    FOR e IN SELECT * FROM bookings.waitlist_entries
             WHERE event_id = p_event_id AND status = 'waiting' ORDER BY id
    LOOP
        EXIT WHEN free <= 0;
        q := least(e.quantity, free);
        IF inv.max_per_user IS NOT NULL THEN
            q := least(q, inv.max_per_user - bookings.seats_owned(p_event_id, e.user_id));
        END IF;
        IF q <= 0 THEN
            -- The user already holds their maximum: an offer could never be confirmed.
            UPDATE bookings.waitlist_entries
            SET status = 'left', updated_at = now(), version = version + 1
            WHERE id = e.id RETURNING * INTO e;
            PERFORM bookings.emit_waitlist(e, 'left');
            CONTINUE;
        END IF;
        INSERT INTO bookings.bookings (event_id, user_id, quantity, status, unit_price, currency,
                                       hold_expires_at, waitlist_entry_id)
        VALUES (p_event_id, e.user_id, q, 'held', inv.unit_price, inv.currency,
                now() + make_interval(secs => inv.waitlist_offer_ttl_seconds), e.id)
        RETURNING * INTO b;
        UPDATE bookings.waitlist_entries
        SET status = 'offered', offer_expires_at = b.hold_expires_at, booking_id = b.id,
            updated_at = now(), version = version + 1
        WHERE id = e.id RETURNING * INTO e;
        PERFORM bookings.emit_booking(b, 'held');
        PERFORM bookings.emit_waitlist(e, 'offered');
        free := free - q;
        offered_seats := offered_seats + q;
        offers := offers + 1;
    END LOOP;
    IF offered_seats > 0 THEN
        UPDATE bookings.inventory SET reserved = reserved + offered_seats
        WHERE event_id = p_event_id;
    END IF;
    RETURN offers;
END
$$;
