"""Every SQL statement of the waiting room service, by name (functions live in sql/)."""

from __future__ import annotations

# --- from the outbox ------------------------------------------------------------------

# A room's settings from event.changed; the newest event version wins. The seed is drawn
# once, when the room first appears, and never changes.
UPSERT_ROOM = """
    INSERT INTO waiting_room.rooms AS r (
        event_id, event_version, enabled, sale_opens_at, prequeue_opens_at,
        admission_rate_per_minute, max_active_shoppers, session_ttl_s, when_sold_out,
        seed, seed_commitment)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (event_id) DO UPDATE SET
        event_version = EXCLUDED.event_version, enabled = EXCLUDED.enabled,
        sale_opens_at = EXCLUDED.sale_opens_at, prequeue_opens_at = EXCLUDED.prequeue_opens_at,
        admission_rate_per_minute = EXCLUDED.admission_rate_per_minute,
        max_active_shoppers = EXCLUDED.max_active_shoppers,
        session_ttl_s = EXCLUDED.session_ttl_s, when_sold_out = EXCLUDED.when_sold_out,
        state_version = r.state_version + 1, updated_at = now()
    WHERE r.event_version < EXCLUDED.event_version
    RETURNING event_id"""

# The event no longer has a room (its settings were removed): it stays, disabled.
DISABLE_ROOM = """
    UPDATE waiting_room.rooms SET enabled = false, event_version = $2,
        state_version = state_version + 1, updated_at = now()
    WHERE event_id = $1 AND event_version < $2
    RETURNING event_id"""

# Seat figures from inventory.changed: whether the event is sold out (visible to
# visitors, so it bumps the state version) and the seats available (caps admission).
APPLY_INVENTORY = """
    UPDATE waiting_room.rooms SET inventory_version = $2, sold_out = $3, available = $4,
        state_version = state_version + CASE WHEN sold_out = $3 THEN 0 ELSE 1 END,
        updated_at = now()
    WHERE event_id = $1 AND inventory_version < $2
    RETURNING event_id"""

# Holds the inventory version just applied ($2) includes: those made at an older version.
PRUNE_UNREPORTED_HOLDS = """
    DELETE FROM waiting_room.unreported_holds WHERE event_id = $1 AND inventory_version < $2"""

# The rooms' rows a grouped inbox transaction changes, locked up front in event id order,
# so two groups never each hold a room the other waits for (rooms.lock_rooms).
LOCK_ROOMS = """
    SELECT event_id FROM waiting_room.rooms WHERE event_id = ANY($1::bigint[])
    ORDER BY event_id FOR UPDATE"""

NOTIFY_ROOM = "SELECT waiting_room.notify_room($1)"

# --- joining and waiting --------------------------------------------------------------

# Joins of one room in the order given, in one round trip (sql/join_rooms.sql).
JOIN_ROOMS = "SELECT user_id, outcome, ticket_id FROM waiting_room.join_rooms($1, $2, $3, $4)"

ROOM_COLUMNS = """
    r.event_id, r.enabled, r.sale_opens_at, r.prequeue_opens_at,
    r.admission_rate_per_minute, r.max_active_shoppers, r.session_ttl_s, r.when_sold_out,
    r.sold_out, r.seed, r.seed_commitment, r.shuffled_at, r.prequeued, r.serving,
    r.admitted, r.state_version"""

SELECT_ROOM = f"""
    SELECT {ROOM_COLUMNS}, r.capped_ticks, r.rate_measured_s, r.rate_measured_admitted,
        (SELECT count(*) FROM waiting_room.tickets t
         WHERE t.event_id = r.event_id AND t.status = 'waiting') AS waiting,
        (SELECT count(*) FROM waiting_room.tickets t
         WHERE t.event_id = r.event_id AND t.status = 'admitted') AS active_shoppers
    FROM waiting_room.rooms r WHERE r.event_id = $1"""

# A visitor's ticket with what their status needs from the room, in one round trip.
SELECT_VISITOR = f"""
    SELECT t.id AS ticket_id, t.status, t.prequeue, t.position, t.joined_at, t.admitted_at,
        t.expires_at, {ROOM_COLUMNS}
    FROM waiting_room.tickets t JOIN waiting_room.rooms r ON r.event_id = t.event_id
    WHERE t.event_id = $1 AND t.user_id = $2"""

# What every replica keeps in memory of each room (status_tags.RoomSnapshot).
ROOM_SNAPSHOTS = """
    SELECT event_id, state_version, serving, sold_out, when_sold_out,
        admission_rate_per_minute, shuffled_at IS NOT NULL AS shuffled
    FROM waiting_room.rooms"""

# --- the ticker -----------------------------------------------------------------------

ENABLED_ROOMS = "SELECT event_id FROM waiting_room.rooms WHERE enabled ORDER BY event_id"
TRY_TICK_LOCK = "SELECT pg_try_advisory_xact_lock($1, $2)"
TAKE_SHUFFLE_LOCK = "SELECT pg_advisory_xact_lock($1, $2)"
SET_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '2s'"
# Read without a row lock: the tick lock already makes this tick the room's only one, and
# joins (next_position) and the inbox (settings, inventory) must not queue behind a whole
# tick; SAVE_TICK writes only the ticker's own columns.
# ``unreported_seats``: seats held that the room's inventory does not include yet
# (waiting_room.unreported_holds), to take off ``available``.
READ_ROOM = f"""
    SELECT {ROOM_COLUMNS}, r.next_position, r.admission_credit, r.last_tick_at, r.available,
        r.last_tick_capped,
        (SELECT coalesce(sum(u.seats), 0) FROM waiting_room.unreported_holds u
         WHERE u.event_id = r.event_id AND u.inventory_version >= r.inventory_version
        )::integer AS unreported_seats
    FROM waiting_room.rooms r WHERE r.event_id = $1"""

PREQUEUE_TICKETS = """
    SELECT id FROM waiting_room.tickets
    WHERE event_id = $1 AND position IS NULL AND status = 'waiting'"""
PLACE_TICKETS = """
    UPDATE waiting_room.tickets t SET position = o.position
    FROM unnest($2::bigint[], $3::bigint[]) AS o(id, position)
    WHERE t.event_id = $1 AND t.id = o.id"""
MARK_SHUFFLED = """
    UPDATE waiting_room.rooms SET shuffled_at = $2, prequeued = $3::integer, next_position = $3,
        state_version = state_version + 1, updated_at = now()
    WHERE event_id = $1"""

# Sessions that end now ($2): past their TTL, or without an open hold and either done
# buying or idle for $3 seconds (0: never idle). Bought and nothing open: 'completed'.
# Locked in ticket id order first, as the inbox locks them (record_booking_changes.sql).
# A session ended before its token's expiry records this transaction's id, so bookings
# hears of it (ENDED_SESSIONS) and refuses the token from then on.
END_SESSIONS = """
    WITH ending AS (
        SELECT id FROM waiting_room.tickets
        WHERE event_id = $1 AND status = 'admitted' AND (
            expires_at <= $2
            OR (open_holds = 0 AND purchased)
            OR (open_holds = 0 AND $3 > 0
                AND coalesce(last_active_at, admitted_at) + make_interval(secs => $3) <= $2))
        ORDER BY id
        FOR UPDATE)
    UPDATE waiting_room.tickets t
    SET status = CASE WHEN t.purchased AND t.open_holds = 0 THEN 'completed' ELSE 'expired' END,
        ended_at = $2,
        ended_xid = CASE WHEN t.expires_at > $2 THEN pg_current_xact_id() END
    FROM ending WHERE t.id = ending.id
    RETURNING t.id, t.status"""
COUNT_QUEUE = """
    SELECT count(*) FILTER (WHERE status = 'admitted') AS active,
           count(*) FILTER (
               WHERE status = 'admitted' AND open_holds = 0 AND NOT purchased) AS undecided,
           count(*) FILTER (WHERE status = 'waiting' AND position IS NOT NULL) AS waiting,
           count(*) FILTER (WHERE status = 'waiting') AS queued
    FROM waiting_room.tickets WHERE event_id = $1"""
ADMIT_NEXT = """
    WITH next AS (
        SELECT id FROM waiting_room.tickets
        WHERE event_id = $1 AND status = 'waiting' AND position IS NOT NULL
        ORDER BY position LIMIT $2 FOR UPDATE)
    UPDATE waiting_room.tickets t
    SET status = 'admitted', admitted_at = $3::timestamptz,
        expires_at = $3::timestamptz + make_interval(secs => $4)
    FROM next WHERE t.id = next.id
    RETURNING t.position, t.joined_at"""
# $7: something other than the rate capped this tick; $8: its seconds, if it measures
# the rate (neither it nor the tick before was capped; 0 otherwise).
SAVE_TICK = """
    UPDATE waiting_room.rooms SET serving = $2, admitted = admitted + $3,
        admission_credit = $4, last_tick_at = $5,
        state_version = state_version + CASE WHEN $6 THEN 1 ELSE 0 END,
        updated_at = CASE WHEN $6 THEN now() ELSE updated_at END,
        last_tick_capped = $7::boolean,
        capped_ticks = capped_ticks + CASE WHEN $7::boolean THEN 1 ELSE 0 END,
        rate_measured_s = rate_measured_s + $8::float8,
        rate_measured_admitted = rate_measured_admitted
            + CASE WHEN $8::float8 > 0 THEN $3 ELSE 0 END
    WHERE event_id = $1"""

# --- sessions ended early, for bookings (session_ends.py) -------------------------------

# The next page of sessions ended before their token expired, in (ended_xid, id) order
# after the cursor ($1, $2), and only those ended by transactions older than every one
# still running: a session a running transaction ends appears once it commits, after
# any cursor handed out before. Rows whose token has expired since are read (the cursor
# moves past them) but not listed.
ENDED_SESSIONS = """
    SELECT id, event_id, user_id, ended_at, expires_at, ended_xid::text AS xid,
        expires_at > now() AS token_valid
    FROM waiting_room.tickets
    WHERE ended_xid IS NOT NULL AND (ended_xid, id) > ($1::text::xid8, $2::bigint)
      AND ended_xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY ended_xid, id
    LIMIT $3"""

# --- the visitor streams (stream.py) ----------------------------------------------------

# The statuses of every visitor of one room with an open stream here, in one round trip.
SELECT_VISITORS = f"""
    SELECT t.user_id, t.id AS ticket_id, t.status, t.prequeue, t.position, t.joined_at,
        t.admitted_at, t.expires_at, {ROOM_COLUMNS}
    FROM waiting_room.tickets t JOIN waiting_room.rooms r ON r.event_id = t.event_id
    WHERE t.event_id = $1 AND t.user_id = ANY($2::bigint[])"""

# --- the fairness report (report.py, purchases.py) ------------------------------------

# booking.changed messages, in order, in one round trip (sql/record_booking_changes.sql).
RECORD_BOOKING_CHANGES = "SELECT waiting_room.record_booking_changes($1, $2, $3, $4, $5, $6, $7)"

# Seats a buyer of the event holds on average (NULL before the first hold).
SEATS_PER_BUYER = """
    SELECT sum(held_seats)::float8 / nullif(sum(held), 0)
    FROM waiting_room.buyers WHERE event_id = $1"""

# A refused join, counted per room and code (no row, so nothing counted, without a room).
RECORD_JOIN_REFUSAL = """
    INSERT INTO waiting_room.join_refusals AS j (event_id, code, refused, last_at)
    SELECT event_id, $2, 1, now() FROM waiting_room.rooms WHERE event_id = $1
    ON CONFLICT (event_id, code) DO UPDATE SET refused = j.refused + 1, last_at = now()"""

# Every ticket of a room with what its visitor bought, in ticket order.
REPORT_TICKETS = """
    SELECT t.id, t.prequeue, t.position, t.status, t.joined_at, t.admitted_at,
        coalesce(b.held, 0) AS held, coalesce(b.confirmed, 0) AS confirmed
    FROM waiting_room.tickets t
    LEFT JOIN waiting_room.buyers b ON b.event_id = t.event_id AND b.user_id = t.user_id
    WHERE t.event_id = $1
    ORDER BY t.id"""

REPORT_REFUSALS = """
    SELECT code, refused FROM waiting_room.join_refusals WHERE event_id = $1 ORDER BY code"""

# Visitors who confirmed seats for the event without ever holding a queue ticket.
REPORT_BUYERS_WITHOUT_TICKET = """
    SELECT count(*) FROM waiting_room.buyers b
    WHERE b.event_id = $1 AND b.confirmed > 0 AND NOT EXISTS (
        SELECT 1 FROM waiting_room.tickets t
        WHERE t.event_id = b.event_id AND t.user_id = b.user_id)"""
