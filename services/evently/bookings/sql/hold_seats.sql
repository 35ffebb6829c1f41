-- Hold seats for a batch of requests on one event (the service gathers concurrent
-- requests into one call: one lock call, one commit). Per request, in order: the
-- idempotency claim (a busy probe = in flight), a stored response, then every check,
-- and the writes: booking, idempotency record, outbox message. The inventory row is
-- updated once at the end. Returns one row per request, in order. Outcomes: held,
-- replayed, idempotency_request_in_flight, idempotency_key_reused, event_not_found,
-- event_cancelled, quantity_out_of_range, sale_not_open, sale_closed,
-- per_user_limit_exceeded, sold_out.
CREATE OR REPLACE FUNCTION bookings.hold_seats(
    p_event_id bigint, p_user_ids bigint[], p_quantities integer[],
    p_idempotency_keys text[], p_request_hashes text[], p_idempotency_ttl_s integer,
    p_key_ns integer[], p_key_ids integer[], p_probe_ns integer[], p_probe_ids integer[],
    p_lock_timeout_ms integer)
RETURNS TABLE (outcome text, body text, lock_wait_s double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    locks record;
    inv bookings.inventory;
    prior bookings.idempotency_keys;
    b bookings.bookings;
    booking jsonb;
    state text;
    owned integer;
    q integer;
    uid bigint;
    reserved_before integer;
BEGIN
    SELECT * INTO locks FROM bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, p_probe_ns, p_probe_ids, p_lock_timeout_ms);
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    state := bookings.sale_state(inv);
    reserved_before := inv.reserved;
    FOR i IN 1 .. coalesce(array_length(p_user_ids, 1), 0) LOOP
        outcome := NULL;
        body := NULL;
        lock_wait_s := locks.lock_wait_s;
        uid := p_user_ids[i];
        q := p_quantities[i];
        IF i = ANY (locks.busy_probes) THEN
            outcome := 'idempotency_request_in_flight';
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT * INTO prior FROM bookings.idempotency_keys
        WHERE user_id = uid AND key = p_idempotency_keys[i]
          AND created_at > now() - make_interval(secs => p_idempotency_ttl_s);
        IF FOUND THEN
            IF prior.request_hash <> p_request_hashes[i] THEN
                outcome := 'idempotency_key_reused';
            ELSE
                outcome := 'replayed';
                body := prior.response::text;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF state IN ('event_not_found', 'event_cancelled') THEN
            outcome := state;
        ELSIF q < 1 OR q > bookings.max_quantity(inv) THEN
            outcome := 'quantity_out_of_range';
        ELSIF state <> 'on_sale' THEN
            outcome := state;
        ELSE
            IF inv.max_per_user IS NOT NULL THEN
                owned := bookings.seats_owned(p_event_id, uid);
                IF owned + q > inv.max_per_user THEN
                    outcome := 'per_user_limit_exceeded';
                    body := jsonb_build_object('max_per_user', inv.max_per_user,
                                               'already_booked', owned)::text;
                    RETURN NEXT;
                    CONTINUE;
                END IF;
            END IF;
            IF inv.reserved + q > inv.capacity THEN
                outcome := 'sold_out';
            END IF;
        END IF;
        IF outcome IS NOT NULL THEN
            body := bookings.refusal_details(inv, outcome)::text;
            RETURN NEXT;
            CONTINUE;
        END IF;
        INSERT INTO bookings.bookings (event_id, user_id, quantity, status, unit_price,
                                       currency, hold_expires_at)
        VALUES (p_event_id, uid, q, 'held', inv.unit_price, inv.currency,
                now() + make_interval(secs => inv.hold_ttl_seconds))
        RETURNING * INTO b;
        booking := bookings.booking_json(b);
        INSERT INTO bookings.idempotency_keys (user_id, key, request_hash, status_code,
                                               response, booking_id)
        VALUES (uid, p_idempotency_keys[i], p_request_hashes[i], 201, booking, b.id)
        ON CONFLICT (user_id, key) DO UPDATE
        SET request_hash = excluded.request_hash, status_code = excluded.status_code,
            response = excluded.response, booking_id = excluded.booking_id,
            created_at = excluded.created_at;
        PERFORM bookings.emit_booking(booking, 'held');
        inv.reserved := inv.reserved + q;
        outcome := 'held';
        body := booking::text;
        RETURN NEXT;
    END LOOP;
    IF inv.reserved > reserved_before THEN
        -- The event lock makes the running count exact; the guard and the CHECK
        -- constraint are the last line of defence, never the mechanism.
        UPDATE bookings.inventory SET reserved = inv.reserved
        WHERE event_id = p_event_id AND reserved = reserved_before AND inv.reserved <= capacity;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'inventory of event % changed under its lock', p_event_id;
        END IF;
    END IF;
END
$$;
