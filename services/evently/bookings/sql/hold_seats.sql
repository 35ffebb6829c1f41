-- Hold seats for a batch of requests on one event (the service gathers concurrent
-- requests into one call: one lock call, one commit). Per request, in order: the
-- idempotency claim (a busy probe = in flight), a stored response, then every check,
-- and the writes: booking, idempotency record, outbox message. The inventory row is
-- updated once at the end. Where the event limits seats per client address, each hold
-- records its address (bookings.hold_addresses) and counts against it.
-- Seated events (docs/seating.md): request i names p_seat_counts[i] seats, the next ones
-- of p_seat_ids (NULL: a quantity request, which a seated event answers with
-- seat_selection_required so that the service picks seats for it; 0: best-available
-- found no block for p_quantities[i] seats, answered no_seats_together once the
-- idempotency record and the other rules were checked). Each seat must exist
-- and be sellable (else invalid_seats) and free (else seats_unavailable, naming the
-- taken ones); it is taken by a transition guarded by status = 'free', and a seat hold
-- of N seats counts in `reserved` like a general-admission hold of N.
-- A best-available pick may come with guards (p_guard_counts[i] pairs, the next ones of
-- p_guard_near / p_guard_far): a pick the picker made orphan-free stays so only while
-- each pair's far seat (a NULL far: the near seat itself) is free or its near seat is
-- not; when another replica took a far seat between the pick and this claim, or an
-- earlier request of the batch that the picker counted on failed (the near seat would be
-- stranded), the request is refused as seats_unavailable with nothing changed, and the
-- service picks again (docs/seating.md). Claimed seats and the event's seating get the batch's stamp
-- (migration 0014) so pickers read only what changed, and are noted for the next
-- publication (migration 0017).
-- A best-available request may name several ranked placements (p_candidates[i] of them,
-- p_quantities[i] seats each, best first, one after another in its p_seat_ids; each
-- guard pair names its placement in p_guard_candidates, NULL: the first): it takes the
-- first placement whose seats are all free and whose guards hold, and is refused as
-- seats_unavailable, naming the taken seats, only when none is; so a pick another
-- replica claimed first costs no second round trip.
-- Channel allocations (migration 0016): p_channels[i] is the channel request i holds
-- for (NULL: public sale; the service lets only an admin or an account granted
-- channels:hold name one). A seat kept back for another channel, or for any channel
-- when the request is public, is unavailable to it (seats_unavailable).
-- The seat, guard, candidate and channel arguments default to NULL, so the previous
-- releases' calls (12, 14 and 17 arguments) still resolve during a rolling upgrade.
-- Returns one row per request, in order: the outcome (see
-- bookings/outcomes.py), the booking (held or replayed) or the refusal's details.
DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer, text[]);
DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer, text[], text[], integer[]);
DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer, text[], text[], integer[], text[], text[], integer[]);
-- Two signatures that only development databases of this change's branches may hold.
DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer, text[], text[], integer[], text[], text[], integer[], text[]);
DROP FUNCTION IF EXISTS bookings.hold_seats(
    bigint, bigint[], integer[], text[], text[], integer, integer[], integer[], integer[],
    integer[], integer, text[], text[], integer[], text[], text[], integer[], integer[],
    integer[]);
CREATE OR REPLACE FUNCTION bookings.hold_seats(
    p_event_id bigint, p_user_ids bigint[], p_quantities integer[],
    p_idempotency_keys text[], p_request_hashes text[], p_idempotency_ttl_s integer,
    p_key_ns integer[], p_key_ids integer[], p_probe_ns integer[], p_probe_ids integer[],
    p_lock_timeout_ms integer, p_client_addresses text[],
    p_seat_ids text[] DEFAULT NULL, p_seat_counts integer[] DEFAULT NULL,
    p_guard_near text[] DEFAULT NULL, p_guard_far text[] DEFAULT NULL,
    p_guard_counts integer[] DEFAULT NULL,
    p_candidates integer[] DEFAULT NULL, p_guard_candidates integer[] DEFAULT NULL,
    p_channels text[] DEFAULT NULL)
RETURNS TABLE (outcome text, booking bookings.bookings, details jsonb,
               lock_wait_s double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    locks record;
    inv bookings.inventory;
    prior bookings.idempotency_keys;
    b bookings.bookings;
    state text;
    owned integer;
    q integer;
    uid bigint;
    held_from_address integer;
    reserved_before integer;
    seating bookings.event_seating;
    seats text[];
    seat_offset integer := 0;
    unknown_seats text[];
    blocked_seats text[];
    taken_seats text[];
    seats_json text;
    claimed integer;
    guard_from integer;
    guard_offset integer := 0;
    stamp bigint;
    placements integer;
    placement text[];
    amount numeric;
    claimed_seats text[] := '{}';
BEGIN
    SELECT * INTO locks FROM bookings.take_advisory_xact_locks(
        p_key_ns, p_key_ids, p_probe_ns, p_probe_ids, p_lock_timeout_ms);
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    SELECT * INTO seating FROM bookings.event_seating WHERE event_id = p_event_id;
    state := bookings.sale_state(inv);
    reserved_before := inv.reserved;
    FOR i IN 1 .. coalesce(array_length(p_user_ids, 1), 0) LOOP
        outcome := NULL;
        booking := NULL;
        details := NULL;
        lock_wait_s := locks.lock_wait_s;
        uid := p_user_ids[i];
        q := p_quantities[i];
        seats := NULL;
        placements := 1;
        guard_from := guard_offset + 1;
        guard_offset := guard_offset + coalesce(p_guard_counts[i], 0);
        IF p_seat_counts[i] IS NOT NULL THEN
            seats := coalesce(p_seat_ids[seat_offset + 1 : seat_offset + p_seat_counts[i]], '{}');
            seat_offset := seat_offset + p_seat_counts[i];
            placements := greatest(coalesce(p_candidates[i], 1), 1);
            IF p_seat_counts[i] > 0 THEN
                q := cardinality(seats) / placements;
            END IF;
        END IF;
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
                -- The booking as it was when first answered (a row, or the rendered
                -- body stored by releases before repeatable SQL: same fields).
                outcome := 'replayed';
                booking := jsonb_populate_record(
                    NULL::bookings.bookings, '{"seats": "[]"}'::jsonb || prior.response);
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF state IN ('event_not_found', 'event_cancelled') THEN
            outcome := state;
        ELSIF seats IS NOT NULL AND seating.event_id IS NULL THEN
            outcome := 'event_not_seated';
        ELSIF seats IS NULL AND seating.event_id IS NOT NULL THEN
            outcome := 'seat_selection_required';
        ELSIF q < 1 OR q > bookings.max_quantity(inv) THEN
            outcome := 'quantity_out_of_range';
        ELSIF state <> 'on_sale' THEN
            outcome := state;
        ELSE
            IF inv.max_per_user IS NOT NULL THEN
                owned := bookings.seats_owned(p_event_id, uid);
                IF owned + q > inv.max_per_user THEN
                    outcome := 'per_user_limit_exceeded';
                    details := jsonb_build_object('max_per_user', inv.max_per_user,
                                                  'already_booked', owned);
                    RETURN NEXT;
                    CONTINUE;
                END IF;
            END IF;
            -- The organiser's per-address limit: seats on hold from this client address
            -- (earlier requests of this batch included: they are written already).
            IF inv.max_per_address IS NOT NULL AND p_client_addresses[i] IS NOT NULL THEN
                SELECT coalesce(sum(hb.quantity), 0) INTO held_from_address
                FROM bookings.hold_addresses a
                JOIN bookings.bookings hb ON hb.id = a.booking_id
                WHERE a.event_id = p_event_id AND a.address = p_client_addresses[i]
                  AND hb.status = 'held';
                IF held_from_address + q > inv.max_per_address THEN
                    outcome := 'per_address_limit_exceeded';
                    details := jsonb_build_object('max_per_address', inv.max_per_address,
                                                  'already_held', held_from_address);
                    RETURN NEXT;
                    CONTINUE;
                END IF;
            END IF;
            IF seats = '{}' THEN
                outcome := 'no_seats_together';
                RETURN NEXT;
                CONTINUE;
            ELSIF seats IS NOT NULL AND placements > 1 THEN
                -- Ranked placements: the first one free and guarded is the request's.
                taken_seats := '{}';
                placement := NULL;
                FOR c IN 1 .. placements LOOP
                    placement := seats[(c - 1) * q + 1 : c * q];
                    taken_seats := taken_seats || ARRAY(
                        SELECT w.seat_id FROM unnest(placement) AS w(seat_id)
                        LEFT JOIN bookings.event_seats e
                               ON e.event_id = p_event_id AND e.seat_id = w.seat_id
                        WHERE e.status IS DISTINCT FROM 'free'
                           OR e.channel IS DISTINCT FROM p_channels[i]
                              AND e.channel IS NOT NULL);
                    EXIT WHEN NOT (placement && taken_seats) AND NOT EXISTS (
                        SELECT 1
                        FROM unnest(p_guard_near[guard_from : guard_offset],
                                    p_guard_far[guard_from : guard_offset],
                                    p_guard_candidates[guard_from : guard_offset])
                             AS g(near, far, candidate)
                        JOIN bookings.event_seats n
                          ON n.event_id = p_event_id AND n.seat_id = g.near
                        LEFT JOIN bookings.event_seats f
                          ON f.event_id = p_event_id AND f.seat_id = g.far
                        WHERE coalesce(g.candidate, 1) = c
                          AND n.status = 'free' AND (g.far IS NULL OR f.status <> 'free'));
                    placement := NULL;
                END LOOP;
                IF placement IS NULL THEN
                    outcome := 'seats_unavailable';  -- none left: picked again
                    details := jsonb_build_object('seat_ids', ARRAY(
                        SELECT DISTINCT t FROM unnest(taken_seats) AS t ORDER BY t));
                    RETURN NEXT;
                    CONTINUE;
                END IF;
                seats := placement;
            ELSIF seats IS NOT NULL THEN
                SELECT coalesce(array_agg(w.seat_id) FILTER (WHERE e.seat_id IS NULL), '{}'),
                       coalesce(array_agg(w.seat_id) FILTER (WHERE e.status = 'blocked'), '{}'),
                       coalesce(array_agg(w.seat_id ORDER BY w.seat_id)
                                FILTER (WHERE e.status IN ('held', 'sold')
                                        OR e.channel IS DISTINCT FROM p_channels[i]
                                           AND e.channel IS NOT NULL), '{}')
                INTO unknown_seats, blocked_seats, taken_seats
                FROM unnest(seats) AS w(seat_id)
                LEFT JOIN bookings.event_seats e
                       ON e.event_id = p_event_id AND e.seat_id = w.seat_id;
                IF cardinality(unknown_seats) > 0 OR cardinality(blocked_seats) > 0 THEN
                    outcome := 'invalid_seats';
                    details := jsonb_build_object('unknown_seat_ids', unknown_seats,
                                                  'blocked_seat_ids', blocked_seats);
                ELSIF cardinality(taken_seats) > 0 THEN
                    outcome := 'seats_unavailable';
                    details := jsonb_build_object('seat_ids', taken_seats);
                ELSIF guard_offset >= guard_from AND EXISTS (
                        SELECT 1
                        FROM unnest(p_guard_near[guard_from : guard_offset],
                                    p_guard_far[guard_from : guard_offset]) AS g(near, far)
                        JOIN bookings.event_seats n
                          ON n.event_id = p_event_id AND n.seat_id = g.near
                        LEFT JOIN bookings.event_seats f
                          ON f.event_id = p_event_id AND f.seat_id = g.far
                        WHERE n.status = 'free' AND (g.far IS NULL OR f.status <> 'free')) THEN
                    outcome := 'seats_unavailable';  -- a stale pick: picked again
                    details := jsonb_build_object('seat_ids', '[]'::jsonb);
                END IF;
                IF outcome IS NOT NULL THEN
                    RETURN NEXT;
                    CONTINUE;
                END IF;
            END IF;
            IF inv.reserved + q > inv.capacity THEN
                outcome := 'sold_out';
            END IF;
        END IF;
        IF outcome IS NOT NULL THEN
            details := bookings.refusal_details(inv, outcome);
            RETURN NEXT;
            CONTINUE;
        END IF;
        seats_json := '[]';
        amount := inv.unit_price * q;
        IF seats IS NOT NULL THEN
            SELECT o.seats_json, o.amount INTO seats_json, amount
            FROM bookings.booking_seats(seating, inv.unit_price, seats) o;
        END IF;
        INSERT INTO bookings.bookings (event_id, user_id, quantity, status, unit_price,
                                       currency, hold_expires_at, seats, amount)
        VALUES (p_event_id, uid, q, 'held', inv.unit_price, inv.currency,
                now() + make_interval(secs => inv.hold_ttl_seconds), seats_json, amount)
        RETURNING * INTO b;
        IF seats IS NOT NULL THEN
            -- Guarded by status = 'free': a seat is never taken twice, whatever happens.
            stamp := coalesce(stamp, nextval('bookings.seat_changes'));
            UPDATE bookings.event_seats SET status = 'held', booking_id = b.id, changed = stamp
            WHERE event_id = p_event_id AND seat_id = ANY (seats) AND status = 'free'
              AND (channel IS NULL OR channel = p_channels[i]);
            GET DIAGNOSTICS claimed = ROW_COUNT;
            IF claimed <> q THEN
                RAISE EXCEPTION 'seats of event % changed under its lock', p_event_id;
            END IF;
            claimed_seats := claimed_seats || seats;
        END IF;
        INSERT INTO bookings.idempotency_keys (user_id, key, request_hash, status_code,
                                               response, booking_id)
        VALUES (uid, p_idempotency_keys[i], p_request_hashes[i], 201, to_jsonb(b), b.id)
        ON CONFLICT (user_id, key) DO UPDATE
        SET request_hash = excluded.request_hash, status_code = excluded.status_code,
            response = excluded.response, booking_id = excluded.booking_id,
            created_at = excluded.created_at;
        IF inv.max_per_address IS NOT NULL AND p_client_addresses[i] IS NOT NULL THEN
            INSERT INTO bookings.hold_addresses (booking_id, event_id, address)
            VALUES (b.id, p_event_id, p_client_addresses[i]);
        END IF;
        PERFORM bookings.emit_booking(b, 'held');
        inv.reserved := inv.reserved + q;
        outcome := 'held';
        booking := b;
        RETURN NEXT;
    END LOOP;
    IF stamp IS NOT NULL THEN
        UPDATE bookings.event_seating SET seat_changes = stamp WHERE event_id = p_event_id;
        PERFORM bookings.note_seat_changes(p_event_id, claimed_seats);
    END IF;
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
