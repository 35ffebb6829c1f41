-- Apply an event's state (event.changed, read by inventory.py with its contract) if it
-- is newer than what we have. A seated event (p_map_id, p_map_version: a version
-- inventory.py made sure is stored) gets one bookings.event_seats row per seat of the
-- version (blocked seats 'blocked', never sellable) and sells its sellable seats: that is
-- its capacity. A new seating replaces the seat rows only while none is held or sold;
-- otherwise the event keeps what it has (reseat_refused, which the caller logs). A
-- capacity below
-- the seats already reserved is clamped to them (never violating the invariant) and
-- reported, so the caller logs it. The seating arguments have defaults so that the
-- previous release's call (18 arguments, no seating) still resolves during a rolling
-- upgrade: p_seating_known false keeps the event's seating as it is. p_zone_prices
-- (zone id -> price text) is the seated event's price per zone, kept on its seating row
-- for holds (sql/hold_seats.sql); NULL keeps the stored prices. p_channels (channel ->
-- seat ids) are the seats kept back per channel: each seat row gets its channel (NULL:
-- public), stamped (migration 0014) so that best-available pickers read the change.
DROP FUNCTION IF EXISTS bookings.apply_event_changed(
    bigint, bigint, text, integer, timestamptz, timestamptz, timestamptz, timestamptz, integer,
    integer, boolean, integer, numeric, text, integer[], integer[], integer, integer);
DROP FUNCTION IF EXISTS bookings.apply_event_changed(
    bigint, bigint, text, integer, timestamptz, timestamptz, timestamptz, timestamptz, integer,
    integer, boolean, integer, numeric, text, integer[], integer[], integer, integer, bigint,
    integer, boolean);
CREATE OR REPLACE FUNCTION bookings.apply_event_changed(
    p_event_id bigint, p_version bigint, p_status text, p_capacity integer,
    p_starts_at timestamptz, p_ends_at timestamptz,
    p_sale_opens_at timestamptz, p_sale_closes_at timestamptz, p_max_per_user integer,
    p_hold_ttl_seconds integer, p_waitlist_enabled boolean,
    p_waitlist_offer_ttl_seconds integer, p_unit_price numeric, p_currency text,
    p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer,
    p_max_per_address integer, p_map_id bigint DEFAULT NULL, p_map_version integer DEFAULT NULL,
    p_seating_known boolean DEFAULT false, p_zone_prices jsonb DEFAULT NULL,
    p_channels jsonb DEFAULT NULL,
    OUT applied boolean, OUT clamped boolean, OUT requested_capacity integer,
    OUT new_capacity integer, OUT reserved_seats integer, OUT offers integer,
    OUT published text, OUT reseat_refused boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    seating bookings.event_seating;
BEGIN
    applied := false;
    reseat_refused := false;
    clamped := false;
    offers := 0;
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF FOUND AND inv.event_version >= p_version THEN
        RETURN;
    END IF;
    SELECT * INTO seating FROM bookings.event_seating WHERE event_id = p_event_id;
    IF p_seating_known
            AND (seating.map_id, seating.map_version) IS DISTINCT FROM (p_map_id, p_map_version) THEN
        IF coalesce(inv.reserved, 0) > 0 OR EXISTS (
                SELECT 1 FROM bookings.event_seats
                WHERE event_id = p_event_id AND status IN ('held', 'sold')) THEN
            reseat_refused := true;
        ELSE
            DELETE FROM bookings.event_seats WHERE event_id = p_event_id;
            DELETE FROM bookings.event_seating WHERE event_id = p_event_id;
            seating := NULL;
            IF p_map_id IS NOT NULL THEN
                -- A new stamp (migration 0014): a picker that knew the old seats
                -- reads every new row.
                INSERT INTO bookings.event_seating (event_id, map_id, map_version, seat_changes)
                VALUES (p_event_id, p_map_id, p_map_version, nextval('bookings.seat_changes'))
                RETURNING * INTO seating;
                INSERT INTO bookings.event_seats (event_id, seat_id, status, changed)
                SELECT p_event_id, m.seat_id,
                       CASE WHEN 'blocked' = ANY (m.flags) THEN 'blocked' ELSE 'free' END,
                       seating.seat_changes
                FROM bookings.seat_map_seats m
                WHERE m.map_id = p_map_id AND m.map_version = p_map_version;
            END IF;
        END IF;
    END IF;
    IF seating.event_id IS NOT NULL AND p_zone_prices IS NOT NULL
            AND seating.zone_prices IS DISTINCT FROM p_zone_prices THEN
        UPDATE bookings.event_seating SET zone_prices = p_zone_prices
        WHERE event_id = p_event_id RETURNING * INTO seating;
    END IF;
    IF seating.event_id IS NOT NULL AND p_channels IS NOT NULL
            AND seating.channels IS DISTINCT FROM p_channels THEN
        -- seating_published false: the streams read the seats again (a resync), since
        -- which free seats show as kept_back changed (docs/seating.md).
        UPDATE bookings.event_seating
        SET channels = p_channels, seat_changes = nextval('bookings.seat_changes'),
            seating_published = false
        WHERE event_id = p_event_id RETURNING * INTO seating;
        UPDATE bookings.event_seats e SET channel = w.channel, changed = seating.seat_changes
        FROM (SELECT s.seat_id, c.channel
              FROM bookings.event_seats s
              LEFT JOIN (SELECT ch.key AS channel, ids.seat_id
                         FROM jsonb_each(p_channels) ch,
                              jsonb_array_elements_text(ch.value) AS ids(seat_id)) c
                     ON c.seat_id = s.seat_id
              WHERE s.event_id = p_event_id) w
        WHERE e.event_id = p_event_id AND e.seat_id = w.seat_id
          AND e.channel IS DISTINCT FROM w.channel;
    END IF;
    IF seating.event_id IS NOT NULL THEN
        -- A seated event sells its version's sellable seats (the events side agrees).
        SELECT v.sellable_seats INTO requested_capacity FROM bookings.seat_map_versions v
        WHERE v.map_id = seating.map_id AND v.map_version = seating.map_version;
    ELSE
        requested_capacity := p_capacity;
    END IF;
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
