-- Tell every replica a room's state changed (channel waiting_room; delivered at commit).
-- The payload is what each keeps in memory to answer status polls without the database.
CREATE OR REPLACE FUNCTION waiting_room.notify_room(p_event_id bigint) RETURNS void
LANGUAGE sql AS $fn$
    SELECT pg_notify('waiting_room', json_build_object(
        'event_id', event_id, 'state_version', state_version)::text)
    FROM waiting_room.rooms WHERE event_id = p_event_id
$fn$;
