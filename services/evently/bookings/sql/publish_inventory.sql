-- Record that a write changed these seats of a seated event (a hold's claim, a waitlist
-- offer, a confirmation, a release), in the writer's transaction: the next publication
-- reads them (migration 0017). One entry per write, not per seat.
CREATE OR REPLACE FUNCTION bookings.note_seat_changes(p_event_id bigint, p_seat_ids text[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.unpublished_seats (event_id, seat_ids)
    SELECT p_event_id, p_seat_ids WHERE cardinality(p_seat_ids) > 0
$$;

-- The seats of a seated event whose status changed since its last publication, as a
-- compact diff {"held": [ids], "sold": [ids], "free": [ids]} (empty lists left out; {}
-- when none changed), recorded as published. Only the seats the writes noted
-- (bookings.unpublished_seats) are read, and their entries drained; a seat held and
-- freed again since the last publication is not sent. Rows another transaction has
-- locked (a confirmation, which takes no event lock) are skipped, not waited for, and
-- noted again if their committed status is still unpublished: the next publication
-- sends them (the confirmation notes its own change and marks the event for the
-- publisher). The caller holds the event's advisory lock, so no other publication
-- drains the event's entries meanwhile; entries of writes not yet committed stay.
CREATE OR REPLACE FUNCTION bookings.publish_seat_changes(p_event_id bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    noted text[];
    sent_ids text[];
    diff jsonb;
BEGIN
    WITH drained AS (
        DELETE FROM bookings.unpublished_seats WHERE event_id = p_event_id
        RETURNING seat_ids
    )
    SELECT array_agg(DISTINCT s.seat_id) INTO noted
    FROM drained, unnest(drained.seat_ids) AS s(seat_id);
    IF noted IS NULL THEN
        RETURN '{}';
    END IF;
    WITH sent AS (
        UPDATE bookings.event_seats e SET published_status = e.status
        WHERE e.event_id = p_event_id AND e.seat_id = ANY (ARRAY(
            SELECT seat_id FROM bookings.event_seats
            WHERE event_id = p_event_id AND seat_id = ANY (noted)
              AND status <> published_status AND status <> 'blocked'
            FOR UPDATE SKIP LOCKED))
        RETURNING e.seat_id, e.status
    )
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'held', jsonb_agg(seat_id ORDER BY seat_id) FILTER (WHERE status = 'held'),
               'sold', jsonb_agg(seat_id ORDER BY seat_id) FILTER (WHERE status = 'sold'),
               'free', jsonb_agg(seat_id ORDER BY seat_id) FILTER (WHERE status = 'free'))),
           coalesce(array_agg(seat_id), '{}')
    INTO diff, sent_ids FROM sent;
    -- A noted seat not sent was published already (held and freed again) or skipped
    -- (locked): the skipped ones are noted again for the next publication.
    PERFORM bookings.note_seat_changes(p_event_id, ARRAY(
        SELECT seat_id FROM bookings.event_seats
        WHERE event_id = p_event_id
          AND seat_id = ANY (ARRAY(SELECT unnest(noted) EXCEPT SELECT unnest(sent_ids)))
          AND status <> published_status AND status <> 'blocked'));
    RETURN diff;
END
$$;

-- NOTIFY's payload limit is 8000 bytes; a diff too large for it (an event's
-- cancellation freeing thousands of seats) is sent as {"resync": true}, and the
-- streams re-read the seats instead (availability_stream.py).
CREATE OR REPLACE FUNCTION bookings.availability_message(p_snapshot jsonb, p_seats jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_seats IS NULL THEN p_snapshot::text
        WHEN octet_length((p_snapshot || jsonb_build_object('seats', p_seats))::text) <= 7900
            THEN (p_snapshot || jsonb_build_object('seats', p_seats))::text
        ELSE (p_snapshot || '{"seats": {"resync": true}}'::jsonb)::text
    END
$$;

-- Publish the event's inventory if it differs from what was last published: bump the
-- inventory version, write inventory.changed for every consumer and notify the
-- availability streams (for a seated event with the seats changed since the last
-- version: docs/seating.md, "Live seat status"). The caller holds the event's advisory
-- lock. Returns the published snapshot (inventory.changed's payload), or null if
-- nothing changed.
CREATE OR REPLACE FUNCTION bookings.publish_locked(p_event_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    inv bookings.inventory;
    snapshot jsonb;
    seats jsonb;
    new_version bigint;
    seating_sent boolean;
BEGIN
    SELECT * INTO inv FROM bookings.inventory WHERE event_id = p_event_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    snapshot := bookings.inventory_state(inv, bookings.sold_seats(p_event_id));
    SELECT s.seating_published INTO seating_sent
    FROM bookings.event_seating s WHERE s.event_id = p_event_id;
    IF FOUND THEN
        seats := bookings.publish_seat_changes(p_event_id);
        IF NOT seating_sent THEN
            -- A new seating (migration 0016): its blocked seats are not in any diff, so
            -- the streams read the seats again, whether or not the counts changed.
            seats := '{"resync": true}';
            UPDATE bookings.event_seating SET seating_published = true
            WHERE event_id = p_event_id;
        END IF;
    END IF;
    IF inv.published IS NOT DISTINCT FROM snapshot AND coalesce(seats, '{}') = '{}' THEN
        RETURN NULL;
    END IF;
    UPDATE bookings.inventory SET version = version + 1, published = snapshot
    WHERE event_id = p_event_id RETURNING version INTO new_version;
    snapshot := snapshot || jsonb_build_object('version', new_version);
    PERFORM bookings.emit_inventory(snapshot);
    PERFORM pg_notify('bookings_availability', bookings.availability_message(snapshot, seats));
    PERFORM pg_notify('bookings_outbox', '');
    RETURN snapshot::text;
END
$$;

-- The publisher's entry point for changes made on the hot path (holds and
-- confirmations publish in batches, see inventory.py).
CREATE OR REPLACE FUNCTION bookings.publish_inventory(
    p_event_id bigint, p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    RETURN bookings.publish_locked(p_event_id);
END
$$;

-- Events whose current inventory, or one of whose seats, differs from what was last
-- published (a crashed publisher, a sale window opening or closing, a confirmation on
-- another replica).
CREATE OR REPLACE FUNCTION bookings.unpublished_events(p_limit integer) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT i.event_id FROM bookings.inventory i
    WHERE i.published IS DISTINCT FROM
          bookings.inventory_state(i, bookings.sold_seats(i.event_id))
       OR EXISTS (SELECT 1 FROM bookings.unpublished_seats s
                  WHERE s.event_id = i.event_id)
    ORDER BY i.event_id
    LIMIT p_limit
$$;
