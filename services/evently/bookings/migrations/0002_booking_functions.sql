-- Bookings' write paths as PL/pgSQL functions: each one takes its advisory locks in one
-- call, checks and writes in ONE round trip (a single statement, so its own implicit
-- transaction), and returns an outcome code the Python layer maps to a response.
-- Outcome codes are documented in docs/bookings.md.

-- The one lock call (core/locks.py TAKE_LOCKS_FUNCTION_SQL, with SCHEMA = bookings).
CREATE OR REPLACE FUNCTION bookings.take_advisory_xact_locks(
    p_key_ns integer[], p_key_ids integer[],
    p_probe_ns integer[], p_probe_ids integer[],
    p_lock_timeout_ms integer,
    OUT lock_wait_s double precision, OUT busy_probes integer[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    started timestamptz := clock_timestamp();
    k record;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
    busy_probes := '{}';
    FOR k IN SELECT ns, id, n FROM unnest(p_probe_ns, p_probe_ids) WITH ORDINALITY AS t(ns, id, n)
             ORDER BY ns, id, n
    LOOP
        IF NOT pg_try_advisory_xact_lock(k.ns, k.id) THEN
            busy_probes := busy_probes || k.n::integer;
        END IF;
    END LOOP;
    FOR k IN SELECT DISTINCT ns, id FROM unnest(p_key_ns, p_key_ids) AS t(ns, id) ORDER BY ns, id
    LOOP
        PERFORM pg_advisory_xact_lock(k.ns, k.id);
    END LOOP;
    lock_wait_s := extract(epoch FROM clock_timestamp() - started);
END
$fn$;

-- ---------------------------------------------------------------- shapes and rules

CREATE FUNCTION bookings.iso(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- The booking as every API response and booking.changed message shows it.
CREATE FUNCTION bookings.booking_json(b bookings.bookings) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', b.id, 'event_id', b.event_id, 'user_id', b.user_id,
        'quantity', b.quantity, 'status', b.status,
        'unit_price', b.unit_price::text, 'currency', b.currency,
        'amount', (b.unit_price * b.quantity)::text,
        'hold_expires_at', bookings.iso(b.hold_expires_at),
        'created_at', bookings.iso(b.created_at),
        'confirmed_at', bookings.iso(b.confirmed_at),
        'cancelled_at', bookings.iso(b.cancelled_at),
        'expired_at', bookings.iso(b.expired_at),
        'waitlist_entry_id', b.waitlist_entry_id,
        'version', b.version)
$$;

-- The waitlist entry as waitlist.changed carries it.
CREATE FUNCTION bookings.waitlist_entry_json(e bookings.waitlist_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'event_id', e.event_id, 'user_id', e.user_id,
        'quantity', e.quantity, 'status', e.status,
        'offer_expires_at', bookings.iso(e.offer_expires_at),
        'booking_id', e.booking_id, 'version', e.version)
$$;

-- The entry as the API shows it: with its place in line (null unless waiting).
CREATE FUNCTION bookings.waitlist_entry_view(e bookings.waitlist_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT bookings.waitlist_entry_json(e) || jsonb_build_object(
        'created_at', bookings.iso(e.created_at),
        'position', CASE WHEN e.status = 'waiting' THEN (
            SELECT count(*) FROM bookings.waitlist_entries w
            WHERE w.event_id = e.event_id AND w.status = 'waiting' AND w.id <= e.id) END)
$$;

-- Whether an event sells now: 'on_sale', or the refusal code that says why not.
CREATE FUNCTION bookings.sale_state(inv bookings.inventory) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN inv.event_id IS NULL OR inv.status = 'draft' THEN 'event_not_found'
        WHEN inv.status = 'cancelled' THEN 'event_cancelled'
        WHEN inv.status = 'completed' THEN 'sale_closed'
        WHEN inv.sale_opens_at IS NOT NULL AND now() < inv.sale_opens_at THEN 'sale_not_open'
        WHEN inv.sale_closes_at IS NOT NULL AND now() >= inv.sale_closes_at THEN 'sale_closed'
        -- Without a closing time, sales end when the event does.
        WHEN now() >= coalesce(inv.ends_at, inv.starts_at, 'infinity') THEN 'sale_closed'
        ELSE 'on_sale'
    END
$$;

-- The most seats one booking (or waitlist entry) may ask for.
CREATE FUNCTION bookings.max_quantity(inv bookings.inventory) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT least(coalesce(inv.max_per_user, inv.target_capacity), inv.target_capacity)
$$;

-- Details a refusal carries (problem extension members).
CREATE FUNCTION bookings.refusal_details(inv bookings.inventory, p_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE p_code
        WHEN 'sale_not_open' THEN jsonb_build_object('sale_opens_at', bookings.iso(inv.sale_opens_at))
        WHEN 'sale_closed' THEN jsonb_build_object('sale_closes_at',
            bookings.iso(coalesce(inv.sale_closes_at, inv.ends_at, inv.starts_at)))
        WHEN 'quantity_out_of_range' THEN jsonb_build_object(
            'min_quantity', 1, 'max_quantity', bookings.max_quantity(inv))
        WHEN 'sold_out' THEN jsonb_build_object(
            'available', greatest(inv.capacity - inv.reserved, 0),
            'waitlist_enabled', inv.waitlist_enabled)
        WHEN 'waitlist_not_needed' THEN jsonb_build_object(
            'available', greatest(inv.capacity - inv.reserved, 0))
        ELSE '{}'::jsonb
    END
$$;

CREATE FUNCTION bookings.seats_owned(p_event_id bigint, p_user_id bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(quantity), 0)::integer FROM bookings.bookings
    WHERE event_id = p_event_id AND user_id = p_user_id AND status IN ('held', 'confirmed')
$$;

-- Confirmed seats live in 16 shard rows per event; a booking always uses the same one.
CREATE FUNCTION bookings.sold_shard(p_booking_id bigint) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p_booking_id % 16)::smallint $$;

CREATE FUNCTION bookings.sold_seats(p_event_id bigint) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(sold), 0)::integer FROM bookings.inventory_sold WHERE event_id = p_event_id
$$;

-- The inventory.changed payload (without its version).
CREATE FUNCTION bookings.availability_json(inv bookings.inventory, p_sold integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'event_id', inv.event_id, 'capacity', inv.capacity,
        'sold', p_sold, 'held', inv.reserved - p_sold,
        'available', greatest(inv.capacity - inv.reserved, 0),
        'on_sale', bookings.sale_state(inv) = 'on_sale',
        'sold_out', inv.capacity - inv.reserved <= 0,
        'status', inv.status)
$$;

-- ---------------------------------------------------------------- outbox (one statement each)

CREATE FUNCTION bookings.emit_booking(p_booking jsonb, p_transition text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    VALUES ('analytics', 'booking.changed', p_booking->>'id', (p_booking->>'version')::bigint,
            jsonb_build_object('transition', p_transition, 'at', bookings.iso(now()),
                               'booking', p_booking))
$$;

CREATE FUNCTION bookings.emit_waitlist(e bookings.waitlist_entries, p_transition text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    VALUES ('analytics', 'waitlist.changed', e.id::text, e.version,
            jsonb_build_object('transition', p_transition, 'at', bookings.iso(now()),
                               'entry', bookings.waitlist_entry_json(e)))
$$;

CREATE FUNCTION bookings.emit_inventory(p_snapshot jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    SELECT c, 'inventory.changed', p_snapshot->>'event_id', (p_snapshot->>'version')::bigint,
           p_snapshot
    FROM unnest(ARRAY['search', 'events', 'analytics']) AS c
$$;

-- ---------------------------------------------------------------- seats and the line

-- Seats come back (cancel, expiry, declined offer). A capacity that was clamped above
-- its target shrinks back towards it instead of reselling the returned seats.
CREATE FUNCTION bookings.release_seats(p_event_id bigint, p_seats integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE bookings.inventory
    SET reserved = reserved - p_seats,
        capacity = greatest(target_capacity, reserved - p_seats)
    WHERE event_id = p_event_id
$$;

-- Offer free seats to the line in join order; each offer is a held booking for the
-- offer TTL, so general buyers can never take those seats. The caller holds the
-- event's advisory lock. Returns the number of offers made.
CREATE FUNCTION bookings.promote_waitlist(p_event_id bigint) RETURNS integer
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
    IF NOT FOUND OR NOT inv.waitlist_enabled OR bookings.sale_state(inv) <> 'on_sale' THEN
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
        PERFORM bookings.emit_booking(bookings.booking_json(b), 'held');
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

-- Publish the event's inventory if it differs from what was last published: bump the
-- inventory version, write inventory.changed for every consumer and notify the
-- availability streams. The caller holds the event's advisory lock. Returns the
-- published snapshot, or null if nothing changed.
CREATE FUNCTION bookings.publish_locked(p_event_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    snapshot jsonb;
    new_version bigint;
BEGIN
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    snapshot := bookings.availability_json(inv, bookings.sold_seats(p_event_id));
    IF inv.published IS NOT DISTINCT FROM snapshot THEN
        RETURN NULL;
    END IF;
    UPDATE bookings.inventory SET version = version + 1, published = snapshot
    WHERE event_id = p_event_id RETURNING version INTO new_version;
    snapshot := snapshot || jsonb_build_object('version', new_version);
    PERFORM bookings.emit_inventory(snapshot);
    PERFORM pg_notify('bookings_availability', snapshot::text);
    PERFORM pg_notify('bookings_outbox', '');
    RETURN snapshot::text;
END
$$;

-- The publisher's entry point for changes made on the hot path (holds and
-- confirmations publish in batches, see inventory.py).
CREATE FUNCTION bookings.publish_inventory(
    p_event_id bigint, p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    RETURN bookings.publish_locked(p_event_id);
END
$$;

-- ---------------------------------------------------------------- hold

-- Hold seats for a batch of requests on one event (the service gathers concurrent
-- requests into one call: one lock call, one commit). Per request, in order: the
-- idempotency claim (a busy probe = in flight), a stored response, then every check,
-- and the writes: booking, idempotency record, outbox message. The inventory row is
-- updated once at the end. Returns one row per request, in order. Outcomes: held,
-- replayed, idempotency_request_in_flight, idempotency_key_reused, event_not_found,
-- event_cancelled, quantity_out_of_range, sale_not_open, sale_closed,
-- per_user_limit_exceeded, sold_out.
CREATE FUNCTION bookings.hold_seats(
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

-- ---------------------------------------------------------------- confirm

-- Confirm held bookings ("paid"), a batch of requests in one transaction (the service
-- gathers concurrent confirmations). Touches only the bookings, sold-seat shard rows
-- and, for offers, their waitlist entries: never the hot inventory row. Rows are locked
-- in booking-id order and shard rows in (event, shard) order, so concurrent batches
-- cannot deadlock. Returns one row per request, in order. Outcomes: confirmed,
-- already_confirmed, booking_not_found, hold_expired, event_cancelled,
-- booking_not_confirmable.
CREATE FUNCTION bookings.confirm_bookings(
    p_booking_ids bigint[], p_user_ids bigint[], p_payment_references text[],
    p_lock_timeout_ms integer)
RETURNS TABLE (outcome text, body text, event_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(array_length(p_booking_ids, 1), 0);
    outcomes text[] := array_fill(NULL::text, ARRAY[n]);
    bodies text[] := array_fill(NULL::text, ARRAY[n]);
    events bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    sold_events bigint[] := '{}';
    sold_shards smallint[] := '{}';
    sold_seats integer[] := '{}';
    r record;
    b bookings.bookings;
    e bookings.waitlist_entries;
    booking jsonb;
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
            bodies[r.n] := bookings.booking_json(b)::text;
            outcomes[r.n] := CASE
                WHEN b.status = 'confirmed' THEN 'already_confirmed'
                WHEN b.status = 'expired' OR b.hold_expires_at <= now() THEN 'hold_expired'
                WHEN b.status = 'held' THEN 'event_cancelled'
                ELSE 'booking_not_confirmable'
            END;
            CONTINUE;
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
        booking := bookings.booking_json(b);
        PERFORM bookings.emit_booking(booking, 'confirmed');
        outcomes[r.n] := 'confirmed';
        bodies[r.n] := booking::text;
        events[r.n] := b.event_id;
    END LOOP;
    IF array_length(sold_events, 1) > 0 THEN
        INSERT INTO bookings.inventory_sold AS s (event_id, shard, sold)
        SELECT t.ev, t.sh, sum(t.q) FROM unnest(sold_events, sold_shards, sold_seats) AS t(ev, sh, q)
        GROUP BY t.ev, t.sh ORDER BY t.ev, t.sh
        ON CONFLICT (event_id, shard) DO UPDATE SET sold = s.sold + excluded.sold;
    END IF;
    RETURN QUERY SELECT outcomes[i], bodies[i], events[i] FROM generate_series(1, n) AS i;
END
$$;

-- ---------------------------------------------------------------- cancel

-- Cancel a held or confirmed booking; its seats return at once and go to the line
-- first. Outcomes: cancelled, already_cancelled, booking_not_found,
-- booking_not_cancellable, event_already_started.
CREATE FUNCTION bookings.cancel_booking(
    p_booking_id bigint, p_user_id bigint, p_event_id bigint,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT body text, OUT lock_wait_s double precision, OUT offers integer,
    OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    b bookings.bookings;
    e bookings.waitlist_entries;
    inv bookings.inventory;
    was text;
    booking jsonb;
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
        body := bookings.booking_json(b)::text;
        RETURN;
    END IF;
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = b.event_id;
    IF inv.starts_at IS NOT NULL AND now() >= inv.starts_at THEN
        outcome := 'event_already_started';
        body := jsonb_build_object('starts_at', bookings.iso(inv.starts_at))::text;
        RETURN;
    END IF;
    was := b.status;
    UPDATE bookings.bookings
    SET status = 'cancelled', cancelled_at = now(), version = version + 1
    WHERE id = b.id RETURNING * INTO b;
    PERFORM bookings.release_seats(b.event_id, b.quantity);
    IF was = 'confirmed' THEN
        UPDATE bookings.inventory_sold SET sold = sold - b.quantity
        WHERE event_id = b.event_id AND shard = bookings.sold_shard(b.id);
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
    booking := bookings.booking_json(b);
    PERFORM bookings.emit_booking(booking, 'cancelled');
    offers := bookings.promote_waitlist(b.event_id);
    published := bookings.publish_locked(b.event_id);
    outcome := 'cancelled';
    body := booking::text;
END
$$;

-- ---------------------------------------------------------------- expiry

-- Expire up to p_limit overdue holds of one event (skipping rows a confirmation has
-- locked), return their seats and offer them to the line. Safe in many replicas:
-- the event lock serialises sweepers and every row is re-checked under it.
CREATE FUNCTION bookings.expire_holds(
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
        expired := expired + 1;
        PERFORM bookings.emit_booking(bookings.booking_json(b), 'expired');
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
        offers := bookings.promote_waitlist(p_event_id);
        published := bookings.publish_locked(p_event_id);
    END IF;
END
$$;

-- ---------------------------------------------------------------- waitlist

-- Join the line: only while the event is sold out (for that quantity) or not yet on
-- sale, and once per user. Outcomes: joined, event_not_found, event_cancelled,
-- sale_closed, waitlist_disabled, quantity_out_of_range, waitlist_not_needed,
-- already_waitlisted, per_user_limit_exceeded.
CREATE FUNCTION bookings.join_waitlist(
    p_event_id bigint, p_user_id bigint, p_quantity integer,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT body text, OUT lock_wait_s double precision)
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
    ELSIF NOT inv.waitlist_enabled THEN
        outcome := 'waitlist_disabled';
    ELSIF p_quantity < 1 OR p_quantity > bookings.max_quantity(inv) THEN
        outcome := 'quantity_out_of_range';
    ELSIF state = 'on_sale' AND inv.capacity - inv.reserved >= p_quantity THEN
        outcome := 'waitlist_not_needed';
    END IF;
    IF outcome IS NOT NULL THEN
        body := bookings.refusal_details(inv, outcome)::text;
        RETURN;
    END IF;
    SELECT * INTO e FROM bookings.waitlist_entries
    WHERE event_id = p_event_id AND user_id = p_user_id AND status IN ('waiting', 'offered');
    IF FOUND THEN
        outcome := 'already_waitlisted';
        body := jsonb_build_object('entry', bookings.waitlist_entry_view(e))::text;
        RETURN;
    END IF;
    IF inv.max_per_user IS NOT NULL THEN
        owned := bookings.seats_owned(p_event_id, p_user_id);
        IF owned + p_quantity > inv.max_per_user THEN
            outcome := 'per_user_limit_exceeded';
            body := jsonb_build_object('max_per_user', inv.max_per_user,
                                       'already_booked', owned)::text;
            RETURN;
        END IF;
    END IF;
    INSERT INTO bookings.waitlist_entries (event_id, user_id, quantity, status)
    VALUES (p_event_id, p_user_id, p_quantity, 'waiting')
    RETURNING * INTO e;
    PERFORM bookings.emit_waitlist(e, 'joined');
    outcome := 'joined';
    body := bookings.waitlist_entry_view(e)::text;
END
$$;

-- Leave the line; leaving with an open offer declines it (its seats go to the next in
-- line). Outcomes: left, not_waitlisted.
CREATE FUNCTION bookings.leave_waitlist(
    p_event_id bigint, p_user_id bigint,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT outcome text, OUT body text, OUT lock_wait_s double precision, OUT offers integer,
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
            PERFORM bookings.release_seats(p_event_id, b.quantity);
            PERFORM bookings.emit_booking(bookings.booking_json(b), 'cancelled');
        END IF;
    END IF;
    UPDATE bookings.waitlist_entries
    SET status = 'left', updated_at = now(), version = version + 1
    WHERE id = e.id RETURNING * INTO e;
    PERFORM bookings.emit_waitlist(e, 'left');
    offers := bookings.promote_waitlist(p_event_id);
    published := bookings.publish_locked(p_event_id);
    outcome := 'left';
    body := bookings.waitlist_entry_view(e)::text;
END
$$;

-- ---------------------------------------------------------------- inventory from events

-- Apply an event.changed payload if it is newer than what we have. A capacity below
-- the seats already reserved is clamped to them (never violating the invariant) and
-- reported, so the caller logs it.
CREATE FUNCTION bookings.apply_event_changed(
    p jsonb, p_version bigint,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    OUT applied boolean, OUT clamped boolean, OUT requested_capacity integer,
    OUT new_capacity integer, OUT reserved_seats integer, OUT offers integer,
    OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    v_event_id bigint := (p->>'id')::bigint;
BEGIN
    applied := false;
    clamped := false;
    offers := 0;
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = v_event_id;
    IF FOUND AND inv.event_version >= p_version THEN
        RETURN;
    END IF;
    requested_capacity := (p->>'capacity')::integer;
    reserved_seats := coalesce(inv.reserved, 0);
    new_capacity := greatest(requested_capacity, reserved_seats);
    clamped := requested_capacity < reserved_seats;
    INSERT INTO bookings.inventory AS i (
        event_id, event_version, status, target_capacity, capacity, starts_at, ends_at,
        sale_opens_at, sale_closes_at, max_per_user, hold_ttl_seconds, waitlist_enabled,
        waitlist_offer_ttl_seconds, unit_price, currency, updated_at)
    VALUES (
        v_event_id, p_version, p->>'status', greatest(requested_capacity, 0),
        greatest(new_capacity, 0),
        (p->>'starts_at')::timestamptz, (p->>'ends_at')::timestamptz,
        (p->>'sale_opens_at')::timestamptz, (p->>'sale_closes_at')::timestamptz,
        (p->>'max_per_user')::integer,
        coalesce((p->>'hold_ttl_seconds')::integer, 600),
        coalesce((p->>'waitlist_enabled')::boolean, true),
        coalesce((p->>'waitlist_offer_ttl_seconds')::integer, 900),
        coalesce((p->>'price')::numeric, 0), coalesce(p->>'currency', 'EUR'), now())
    ON CONFLICT (event_id) DO UPDATE SET
        event_version = excluded.event_version, status = excluded.status,
        target_capacity = excluded.target_capacity, capacity = excluded.capacity,
        starts_at = excluded.starts_at, ends_at = excluded.ends_at,
        sale_opens_at = excluded.sale_opens_at, sale_closes_at = excluded.sale_closes_at,
        max_per_user = excluded.max_per_user, hold_ttl_seconds = excluded.hold_ttl_seconds,
        waitlist_enabled = excluded.waitlist_enabled,
        waitlist_offer_ttl_seconds = excluded.waitlist_offer_ttl_seconds,
        unit_price = excluded.unit_price, currency = excluded.currency,
        updated_at = excluded.updated_at;
    applied := true;
    offers := bookings.promote_waitlist(v_event_id);
    published := bookings.publish_locked(v_event_id);
END
$$;

-- ---------------------------------------------------------------- publishing

-- Events whose current inventory differs from what was last published (a crashed
-- publisher, a sale window opening or closing, a confirmation on another replica).
CREATE FUNCTION bookings.unpublished_events(p_limit integer) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT i.event_id FROM bookings.inventory i
    WHERE i.published IS DISTINCT FROM
          bookings.availability_json(i, bookings.sold_seats(i.event_id))
    ORDER BY i.event_id
    LIMIT p_limit
$$;

-- Live availability (the internal endpoint and the stream's first message).
CREATE FUNCTION bookings.availability(p_event_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT bookings.availability_json(i, bookings.sold_seats(i.event_id))
           || jsonb_build_object(
               'version', i.version,
               'waitlisted', (SELECT count(*) FROM bookings.waitlist_entries w
                              WHERE w.event_id = i.event_id AND w.status = 'waiting'))
    FROM bookings.inventory i WHERE i.event_id = p_event_id
$$;
