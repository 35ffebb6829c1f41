-- Apply an event's state (event.changed, read by inventory.py with its contract) if it
-- is newer than what we have. A capacity below
-- the seats already reserved is clamped to them (never violating the invariant) and
-- reported, so the caller logs it.
CREATE OR REPLACE FUNCTION bookings.apply_event_changed(
    p_event_id bigint, p_version bigint, p_status text, p_capacity integer,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_sale_opens_at timestamptz, p_sale_closes_at timestamptz, p_max_per_user integer,
    p_hold_ttl_seconds integer, p_waitlist_enabled boolean,
    p_waitlist_offer_ttl_seconds integer, p_unit_price numeric, p_currency text,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    p_max_per_address integer,
    OUT applied boolean, OUT clamped boolean, OUT requested_capacity integer,
    OUT new_capacity integer, OUT reserved_seats integer, OUT offers integer,
    OUT published text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
BEGIN
    applied := false;
    clamped := false;
    offers := 0;
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF FOUND AND inv.event_version >= p_version THEN
        RETURN;
    END IF;
    requested_capacity := p_capacity;
    reserved_seats := coalesce(inv.reserved, 0);
    new_capacity := greatest(requested_capacity, reserved_seats);
    clamped := requested_capacity < reserved_seats;
    INSERT INTO bookings.inventory AS i (
        event_id, event_version, status, target_capacity, capacity, starts_at, ends_at,
        sale_opens_at, sale_closes_at, max_per_user, hold_ttl_seconds, waitlist_enabled,
        waitlist_offer_ttl_seconds, unit_price, currency, max_per_address, updated_at)
    VALUES (
        p_event_id, p_version, p_status, greatest(requested_capacity, 0),
        greatest(new_capacity, 0), p_starts_at, p_ends_at, p_sale_opens_at, p_sale_closes_at,
        p_max_per_user, p_hold_ttl_seconds, p_waitlist_enabled, p_waitlist_offer_ttl_seconds,
        p_unit_price, p_currency, p_max_per_address, now())
    ON CONFLICT (event_id) DO UPDATE SET
        event_version = excluded.event_version, status = excluded.status,
        target_capacity = excluded.target_capacity, capacity = excluded.capacity,
        starts_at = excluded.starts_at, ends_at = excluded.ends_at,
        sale_opens_at = excluded.sale_opens_at, sale_closes_at = excluded.sale_closes_at,
        max_per_user = excluded.max_per_user, hold_ttl_seconds = excluded.hold_ttl_seconds,
        waitlist_enabled = excluded.waitlist_enabled,
        waitlist_offer_ttl_seconds = excluded.waitlist_offer_ttl_seconds,
        unit_price = excluded.unit_price, currency = excluded.currency,
        max_per_address = excluded.max_per_address, updated_at = excluded.updated_at;
    applied := true;
    offers := bookings.promote_waitlist(p_event_id);
    published := bookings.publish_locked(p_event_id);
END
$$;
