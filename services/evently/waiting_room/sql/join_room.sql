-- Joining a room: one queue ticket per visitor and event, idempotent (docs/waiting-room.md).
--
-- Before the shuffle, a ticket goes to the pre-queue (no position); the join holds the
-- room's shuffle lock in shared mode, the shuffle takes it exclusively, so no pre-queue
-- ticket can appear after the shuffle has read the pre-queue. After the shuffle, the
-- ticket takes the next position (first come, first served), the room's row lock
-- ordering concurrent joins.
CREATE OR REPLACE FUNCTION waiting_room.join_room(
    p_event_id bigint, p_user_id bigint, p_lock_ns integer, p_lock_id integer,
    OUT outcome text, OUT ticket_id bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
    r waiting_room.rooms%ROWTYPE;
    pos bigint;
BEGIN
    SELECT t.id INTO ticket_id FROM waiting_room.tickets t
    WHERE t.event_id = p_event_id AND t.user_id = p_user_id;
    IF FOUND THEN
        outcome := 'joined';
        RETURN;
    END IF;
    SELECT * INTO r FROM waiting_room.rooms WHERE event_id = p_event_id;
    IF NOT FOUND THEN
        outcome := 'waiting_room_not_found';
        RETURN;
    ELSIF NOT r.enabled THEN
        outcome := 'waiting_room_disabled';
        RETURN;
    ELSIF r.prequeue_opens_at IS NOT NULL AND now() < r.prequeue_opens_at THEN
        outcome := 'waiting_room_not_open';
        RETURN;
    ELSIF r.sold_out AND r.when_sold_out = 'close' THEN
        outcome := 'waiting_room_closed';
        RETURN;
    END IF;
    IF r.shuffled_at IS NULL THEN
        PERFORM pg_advisory_xact_lock_shared(p_lock_ns, p_lock_id);
        -- A new statement sees a shuffle that committed while we waited.
        IF (SELECT shuffled_at IS NULL FROM waiting_room.rooms WHERE event_id = p_event_id) THEN
            INSERT INTO waiting_room.tickets (event_id, user_id, prequeue, joined_at)
            VALUES (p_event_id, p_user_id, true, clock_timestamp())
            ON CONFLICT (event_id, user_id) DO NOTHING
            RETURNING id INTO ticket_id;
            outcome := 'joined';
            IF ticket_id IS NULL THEN
                SELECT t.id INTO ticket_id FROM waiting_room.tickets t
                WHERE t.event_id = p_event_id AND t.user_id = p_user_id;
            END IF;
            RETURN;
        END IF;
    END IF;
    UPDATE waiting_room.rooms SET next_position = next_position + 1
    WHERE event_id = p_event_id
    RETURNING next_position INTO pos;
    INSERT INTO waiting_room.tickets (event_id, user_id, prequeue, position, joined_at)
    VALUES (p_event_id, p_user_id, false, pos, clock_timestamp())
    ON CONFLICT (event_id, user_id) DO NOTHING
    RETURNING id INTO ticket_id;
    IF ticket_id IS NULL THEN
        -- The same visitor joined concurrently: theirs stands (this position stays empty).
        SELECT t.id INTO ticket_id FROM waiting_room.tickets t
        WHERE t.event_id = p_event_id AND t.user_id = p_user_id;
    END IF;
    outcome := 'joined';
END
$fn$;
