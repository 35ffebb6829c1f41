-- Offer free seats to the line in join order; each offer is a held booking for the
-- offer TTL, so general buyers can never take those seats. The caller holds the
-- event's advisory lock. Returns the number of offers made.
-- A seated event (docs/seating.md, "Seated waitlist") offers specific seats: for each
-- entry, the free public seats (not kept back for a channel) best-available would pick
-- (bookings.best_available_seats: adjacent, no stranded seat when avoidable, accessible
-- and companion seats last), else the free public seats of the best-ranked row with
-- enough of them, else the best-ranked free public seats wherever they are.
-- They are taken like a hold's (status = 'free' guard, the batch's stamp) and the offer
-- is priced like one (bookings.booking_seats).
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
    seating bookings.event_seating;
    picked text[];
    offer_seats text;
    offer_amount numeric;
    stamp bigint;
    claimed integer;
BEGIN
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF NOT FOUND OR NOT bookings.waitlist_enabled(inv) OR bookings.sale_state(inv) <> 'on_sale' THEN
        RETURN 0;
    END IF;
    free := inv.capacity - inv.reserved;
    IF free <= 0 THEN
        RETURN 0;
    END IF;
    SELECT * INTO seating FROM bookings.event_seating WHERE event_id = p_event_id;
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
        offer_seats := '[]';
        offer_amount := inv.unit_price * q;
        IF seating.event_id IS NOT NULL THEN
            picked := bookings.best_available_seats(
                p_event_id, seating.map_id, seating.map_version, q);
            IF picked IS NULL THEN
                -- No block takes them together: the free public seats of the
                -- best-ranked row with enough of them, else the best-ranked ones
                -- wherever they are (an offer of scattered seats can be declined).
                SELECT array_agg(t.seat_id ORDER BY t.position) INTO picked
                FROM (SELECT s.seat_id, m.position
                      FROM bookings.event_seats s
                      JOIN bookings.seat_map_seats m
                        ON m.map_id = seating.map_id AND m.map_version = seating.map_version
                       AND m.seat_id = s.seat_id
                      WHERE s.event_id = p_event_id AND s.status = 'free' AND s.channel IS NULL
                      ORDER BY count(*) OVER (PARTITION BY m.section, m.row_id) >= q DESC,
                               m.rank, m.section, m.row_id,
                               m.flags && ARRAY['accessible', 'companion'], m.position
                      LIMIT q) t;
            END IF;
            q := coalesce(cardinality(picked), 0);
            EXIT WHEN q = 0;  -- the free seats are all kept back for channels
            SELECT o.seats_json, o.amount INTO offer_seats, offer_amount
            FROM bookings.booking_seats(seating, inv.unit_price, picked) o;
        END IF;
        INSERT INTO bookings.bookings (event_id, user_id, quantity, status, unit_price, currency,
                                       hold_expires_at, waitlist_entry_id, seats, amount)
        VALUES (p_event_id, e.user_id, q, 'held', inv.unit_price, inv.currency,
                now() + make_interval(secs => inv.waitlist_offer_ttl_seconds), e.id,
                offer_seats, offer_amount)
        RETURNING * INTO b;
        IF seating.event_id IS NOT NULL THEN
            stamp := coalesce(stamp, nextval('bookings.seat_changes'));
            UPDATE bookings.event_seats SET status = 'held', booking_id = b.id, changed = stamp
            WHERE event_id = p_event_id AND seat_id = ANY (picked) AND status = 'free';
            GET DIAGNOSTICS claimed = ROW_COUNT;
            IF claimed <> q THEN
                RAISE EXCEPTION 'seats of event % changed under its lock', p_event_id;
            END IF;
            PERFORM bookings.note_seat_changes(p_event_id, picked);
        END IF;
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
    IF stamp IS NOT NULL THEN
        UPDATE bookings.event_seating SET seat_changes = stamp WHERE event_id = p_event_id;
    END IF;
    IF offered_seats > 0 THEN
        UPDATE bookings.inventory SET reserved = reserved + offered_seats
        WHERE event_id = p_event_id;
    END IF;
    RETURN offers;
END
$$;
