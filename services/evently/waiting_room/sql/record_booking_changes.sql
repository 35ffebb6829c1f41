-- booking.changed messages applied in order, in one round trip (purchases.py): for each,
-- one more booking of the visitor went through its transition (the fairness report's
-- counters in waiting_room.buyers), and what it did keeps an admitted visitor's session
-- going (last_active_at, open_holds) or completes it (purchased). p_was_confirmed: the
-- booking had been confirmed before (a cancellation then closes no hold). Holds from
-- before admission are not counted, so their end never makes open_holds negative.
-- The admitted tickets are locked first, in id order, as the ticker locks the sessions it
-- ends (queries.END_SESSIONS): a batch and a tick never each hold a ticket the other
-- waits for (tests/waiting_room/test_inbox_lock_order.py).
-- A hold the room's inventory does not include yet (p_inventory_versions: the version it
-- was made at, bookings' own; NULL in older messages: the room's current one) is noted in
-- waiting_room.unreported_holds, whose seats the ticker takes off ``available`` until a
-- greater inventory version arrives (tests/waiting_room/test_unreported_holds.py).
DROP FUNCTION IF EXISTS waiting_room.record_booking_changes(
    bigint[], bigint[], text[], timestamptz[], integer[], boolean[]);
CREATE OR REPLACE FUNCTION waiting_room.record_booking_changes(
    p_event_ids bigint[], p_user_ids bigint[], p_transitions text[], p_ats timestamptz[],
    p_quantities integer[], p_was_confirmed boolean[], p_inventory_versions bigint[]
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    i integer;
    tr text;
BEGIN
    PERFORM 1 FROM waiting_room.tickets t
    WHERE (t.event_id, t.user_id) IN (SELECT * FROM unnest(p_event_ids, p_user_ids))
      AND t.status = 'admitted'
    ORDER BY t.id
    FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_event_ids, 1), 0) LOOP
        tr := p_transitions[i];
        INSERT INTO waiting_room.buyers AS b (
            event_id, user_id, held, confirmed, cancelled, expired,
            first_held_at, first_confirmed_at, held_seats)
        VALUES (p_event_ids[i], p_user_ids[i], (tr = 'held')::int, (tr = 'confirmed')::int,
            (tr = 'cancelled')::int, (tr = 'expired')::int,
            CASE WHEN tr = 'held' THEN p_ats[i] END,
            CASE WHEN tr = 'confirmed' THEN p_ats[i] END,
            CASE WHEN tr = 'held' THEN p_quantities[i] ELSE 0 END)
        ON CONFLICT (event_id, user_id) DO UPDATE SET
            held = b.held + EXCLUDED.held, confirmed = b.confirmed + EXCLUDED.confirmed,
            cancelled = b.cancelled + EXCLUDED.cancelled,
            expired = b.expired + EXCLUDED.expired,
            first_held_at = LEAST(b.first_held_at, EXCLUDED.first_held_at),
            first_confirmed_at = LEAST(b.first_confirmed_at, EXCLUDED.first_confirmed_at),
            held_seats = b.held_seats + EXCLUDED.held_seats;
        IF tr = 'held' THEN
            INSERT INTO waiting_room.unreported_holds AS u (event_id, inventory_version, seats)
            SELECT r.event_id, coalesce(p_inventory_versions[i], r.inventory_version),
                p_quantities[i]
            FROM waiting_room.rooms r
            WHERE r.event_id = p_event_ids[i]
              AND coalesce(p_inventory_versions[i], r.inventory_version) >= r.inventory_version
            ON CONFLICT (event_id, inventory_version) DO UPDATE SET seats = u.seats + EXCLUDED.seats;
        END IF;
        UPDATE waiting_room.tickets SET
            last_active_at = GREATEST(last_active_at, p_ats[i]),
            open_holds = GREATEST(0, open_holds + CASE
                WHEN tr = 'held' THEN 1
                WHEN tr IN ('confirmed', 'expired') THEN -1
                WHEN tr = 'cancelled' AND NOT p_was_confirmed[i] THEN -1
                ELSE 0 END),
            purchased = purchased OR tr = 'confirmed'
        WHERE event_id = p_event_ids[i] AND user_id = p_user_ids[i] AND status = 'admitted';
    END LOOP;
END
$fn$;
