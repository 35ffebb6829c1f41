-- Publish the event's inventory if it differs from what was last published: bump the
-- inventory version, write inventory.changed for every consumer and notify the
-- availability streams. The caller holds the event's advisory lock. Returns the
-- published snapshot, or null if nothing changed.
CREATE OR REPLACE FUNCTION bookings.publish_locked(p_event_id bigint) RETURNS text
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
CREATE OR REPLACE FUNCTION bookings.publish_inventory(
    p_event_id bigint, p_key_ns integer[], p_key_ids integer[], p_lock_timeout_ms integer)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings.take_advisory_xact_locks(p_key_ns, p_key_ids, '{}', '{}', p_lock_timeout_ms);
    RETURN bookings.publish_locked(p_event_id);
END
$$;

-- Events whose current inventory differs from what was last published (a crashed
-- publisher, a sale window opening or closing, a confirmation on another replica).
CREATE OR REPLACE FUNCTION bookings.unpublished_events(p_limit integer) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT i.event_id FROM bookings.inventory i
    WHERE i.published IS DISTINCT FROM
          bookings.availability_json(i, bookings.sold_seats(i.event_id))
    ORDER BY i.event_id
    LIMIT p_limit
$$;
