-- Several joins of one room in one round trip, in the order given (visitors.JoinBatcher:
-- the order in which this replica received them), each exactly as join_room.
CREATE OR REPLACE FUNCTION waiting_room.join_rooms(
    p_event_id bigint, p_user_ids bigint[], p_lock_ns integer, p_lock_id integer
) RETURNS TABLE (user_id bigint, outcome text, ticket_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    i integer;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_user_ids, 1), 0) LOOP
        user_id := p_user_ids[i];
        SELECT j.outcome, j.ticket_id INTO outcome, ticket_id
        FROM waiting_room.join_room(p_event_id, p_user_ids[i], p_lock_ns, p_lock_id) j;
        RETURN NEXT;
    END LOOP;
END
$fn$;
