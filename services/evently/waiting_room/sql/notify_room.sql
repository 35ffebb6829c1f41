-- Tell every replica a room's state changed (channel waiting_room; delivered at commit).
-- The payload is what each keeps in memory to answer status polls without the database:
-- the state version and what decides a waiting visitor's view (status_tags.RoomSnapshot),
-- and when it was sent (Unix seconds: evently_waiting_room_change_heard_seconds).
CREATE OR REPLACE FUNCTION waiting_room.notify_room(p_event_id bigint) RETURNS void
LANGUAGE sql AS $fn$
    SELECT pg_notify('waiting_room', json_build_object(
        'event_id', event_id, 'state_version', state_version, 'serving', serving,
        'sold_out', sold_out, 'when_sold_out', when_sold_out,
        'admission_rate_per_minute', admission_rate_per_minute,
        'shuffled', shuffled_at IS NOT NULL,
        'at', extract(epoch FROM clock_timestamp()))::text)
    FROM waiting_room.rooms WHERE event_id = p_event_id
$fn$;
