CREATE OR REPLACE FUNCTION bookings.emit_booking(p_booking jsonb, p_transition text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    VALUES ('analytics', 'booking.changed', p_booking->>'id', (p_booking->>'version')::bigint,
            jsonb_build_object('transition', p_transition, 'at', bookings.iso(now()),
                               'booking', p_booking))
$$;

CREATE OR REPLACE FUNCTION bookings.emit_waitlist(e bookings.waitlist_entries, p_transition text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    VALUES ('analytics', 'waitlist.changed', e.id::text, e.version,
            jsonb_build_object('transition', p_transition, 'at', bookings.iso(now()),
                               'entry', bookings.waitlist_entry_json(e)))
$$;

CREATE OR REPLACE FUNCTION bookings.emit_inventory(p_snapshot jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (consumer, topic, key, version, payload)
    SELECT c, 'inventory.changed', p_snapshot->>'event_id', (p_snapshot->>'version')::bigint,
           p_snapshot
    FROM unnest(ARRAY['search', 'events', 'analytics']) AS c
$$;
