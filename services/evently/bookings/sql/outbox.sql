-- What bookings announces, written to its outbox in the same transaction as the change.
-- A message stores the aggregate's row as it is (to_jsonb); the relay routes it to the
-- topic's consumers and renders it with the topic's contract (core/contracts.py), so no
-- message shape and no consumer list is written here.
-- booking.changed carries the event's inventory version: callers hold the event's lock,
-- which publishing takes too, so the first inventory.changed that includes this change
-- has a greater version (the waiting room counts a hold against the seats until then).
CREATE OR REPLACE FUNCTION bookings.emit_booking(b bookings.bookings, p_transition text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (topic, key, version, payload)
    VALUES ('booking.changed', b.id::text, b.version,
            jsonb_build_object('transition', p_transition, 'at', now(),
                               'inventory_version', (SELECT i.version FROM bookings.inventory i
                                                     WHERE i.event_id = b.event_id),
                               -- numeric(12, 2) as text keeps its two places ("49.90");
                               -- a NULL amount (older rows) is unit_price x quantity
                               'booking', to_jsonb(b) || jsonb_build_object(
                                   'unit_price', b.unit_price::text,
                                   'amount', b.amount::text)))
$$;

CREATE OR REPLACE FUNCTION bookings.emit_waitlist(e bookings.waitlist_entries, p_transition text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (topic, key, version, payload)
    VALUES ('waitlist.changed', e.id::text, e.version,
            jsonb_build_object('transition', p_transition, 'at', now(), 'entry', to_jsonb(e)))
$$;

-- A ticket's first valid scan (sql/check_in_ticket.sql); a ticket is checked in once,
-- so its message has version 1.
CREATE OR REPLACE FUNCTION bookings.emit_ticket_checked_in(t bookings.tickets)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (topic, key, version, payload)
    VALUES ('ticket.checked_in', t.id::text, 1,
            jsonb_build_object('ticket_id', t.id, 'event_id', t.event_id,
                               'booking_id', t.booking_id, 'seat', t.seat,
                               'gate', t.checked_in_gate, 'checked_in_at', t.checked_in_at))
$$;

-- p_snapshot: bookings.inventory_state(...) with the new inventory version.
CREATE OR REPLACE FUNCTION bookings.emit_inventory(p_snapshot jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bookings.outbox (topic, key, version, payload)
    VALUES ('inventory.changed', p_snapshot->>'event_id', (p_snapshot->>'version')::bigint,
            p_snapshot)
$$;
