-- Joining a room: one queue ticket per visitor and event, idempotent (docs/waiting-room.md).
-- Several joins of one room in one round trip, in the order given (visitors.JoinBatcher:
-- the order in which this replica received them), set-based: the room is read once, its
-- next_position moved once for the whole batch, the new tickets inserted in one
-- statement. (Before 2026-12-05 a join_room function ran per visitor: a batch updated
-- the room's row once per join, each update a new version of the same row to step over;
-- 2-3 times slower a batch.)
--
-- A visitor with a ticket gets it back, whatever the room's state. The others:
-- * are refused (the outcome names why) by a room that is missing, disabled, not open
--   yet, or sold out with when_sold_out = 'close';
-- * before the shuffle, join the pre-queue (no position): the batch holds the room's
--   shuffle lock in shared mode, the shuffle takes it exclusively, so no pre-queue ticket
--   can appear after the shuffle has read the pre-queue;
-- * after it, take the next positions in the order given (first come, first served),
--   the room's row lock ordering concurrent batches.
-- A visitor given twice keeps their first place; one whose ticket a concurrent batch
-- (another replica) inserted first keeps that one, and the position this batch meant for
-- them stays empty.
CREATE OR REPLACE FUNCTION waiting_room.join_rooms(
    p_event_id bigint, p_user_ids bigint[], p_lock_ns integer, p_lock_id integer
) RETURNS TABLE (user_id bigint, outcome text, ticket_id bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    r waiting_room.rooms%ROWTYPE;
    newcomers bigint[];
    refusal text;
    first_position bigint;
BEGIN
    SELECT coalesce(array_agg(g.uid ORDER BY g.i), '{}') INTO newcomers
    FROM (
        SELECT DISTINCT ON (u.uid) u.uid, u.i
        FROM unnest(p_user_ids) WITH ORDINALITY AS u(uid, i)
        ORDER BY u.uid, u.i
    ) g
    WHERE NOT EXISTS (
        SELECT 1 FROM waiting_room.tickets t
        WHERE t.event_id = p_event_id AND t.user_id = g.uid);
    IF cardinality(newcomers) > 0 THEN
        SELECT * INTO r FROM waiting_room.rooms WHERE event_id = p_event_id;
        IF NOT FOUND THEN
            refusal := 'waiting_room_not_found';
        ELSIF NOT r.enabled THEN
            refusal := 'waiting_room_disabled';
        ELSIF r.prequeue_opens_at IS NOT NULL AND now() < r.prequeue_opens_at THEN
            refusal := 'waiting_room_not_open';
        ELSIF r.sold_out AND r.when_sold_out = 'close' THEN
            refusal := 'waiting_room_closed';
        ELSIF r.shuffled_at IS NULL
            AND (SELECT pg_advisory_xact_lock_shared(p_lock_ns, p_lock_id)) IS NOT NULL
            -- A new statement sees a shuffle that committed while we waited.
            AND (SELECT x.shuffled_at IS NULL FROM waiting_room.rooms x
                 WHERE x.event_id = p_event_id) THEN
            INSERT INTO waiting_room.tickets (event_id, user_id, prequeue, joined_at)
            SELECT p_event_id, n.uid, true, clock_timestamp()
            FROM unnest(newcomers) WITH ORDINALITY AS n(uid, i)
            ORDER BY n.i
            ON CONFLICT (event_id, user_id) DO NOTHING;
        ELSE
            UPDATE waiting_room.rooms
            SET next_position = next_position + cardinality(newcomers)
            WHERE event_id = p_event_id
            RETURNING next_position - cardinality(newcomers) INTO first_position;
            INSERT INTO waiting_room.tickets (event_id, user_id, prequeue, position, joined_at)
            SELECT p_event_id, n.uid, false, first_position + n.i, clock_timestamp()
            FROM unnest(newcomers) WITH ORDINALITY AS n(uid, i)
            ORDER BY n.i
            ON CONFLICT (event_id, user_id) DO NOTHING;
        END IF;
    END IF;
    RETURN QUERY
    SELECT u.uid, CASE WHEN t.id IS NULL THEN refusal ELSE 'joined' END, t.id
    FROM unnest(p_user_ids) WITH ORDINALITY AS u(uid, i)
    LEFT JOIN waiting_room.tickets t ON t.event_id = p_event_id AND t.user_id = u.uid
    ORDER BY u.i;
END
$fn$;
