-- Apply an event.changed payload if it is newer than what we have. A capacity below
-- the seats already reserved is clamped to them (never violating the invariant) and
-- reported, so the caller logs it.
CREATE OR REPLACE FUNCTION bookings.apply_event_changed(
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
