CREATE OR REPLACE FUNCTION bookings.iso(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- The booking as every API response and booking.changed message shows it.
CREATE OR REPLACE FUNCTION bookings.booking_json(b bookings.bookings) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
CREATE OR REPLACE FUNCTION bookings.waitlist_entry_json(e bookings.waitlist_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'event_id', e.event_id, 'user_id', e.user_id,
        'quantity', e.quantity, 'status', e.status,
        'offer_expires_at', bookings.iso(e.offer_expires_at),
        'booking_id', e.booking_id, 'version', e.version)
$$;

-- The entry as the API shows it: with its place in line (null unless waiting).
CREATE OR REPLACE FUNCTION bookings.waitlist_entry_view(e bookings.waitlist_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT bookings.waitlist_entry_json(e) || jsonb_build_object(
        'created_at', bookings.iso(e.created_at),
        'position', CASE WHEN e.status = 'waiting' THEN (
            SELECT count(*) FROM bookings.waitlist_entries w
            WHERE w.event_id = e.event_id AND w.status = 'waiting' AND w.id <= e.id) END)
$$;
