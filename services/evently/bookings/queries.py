"""Every SQL statement of the bookings service, by name.

The write paths are PL/pgSQL functions defined in ``sql/`` (one file per operation);
each call below is a single statement, so it runs as its own transaction in ONE round
trip: the function takes its advisory locks, checks and writes, and returns an outcome
with typed rows (``bookings.bookings``, ``bookings.waitlist_entries``), which
``models.py`` turns into response bodies.
"""

from __future__ import annotations

# One row per request of the batch, in order.
HOLD_SEATS = """
SELECT outcome, booking, details, lock_wait_s
FROM bookings.hold_seats($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                          $17, $18, $19, $20)
"""

# One row per request of the batch, in order.
CONFIRM_BOOKINGS = """
SELECT outcome, booking, event_id FROM bookings.confirm_bookings($1, $2, $3, $4)
"""

BOOKING_OWNER = "SELECT event_id, user_id FROM bookings.bookings WHERE id = $1"

CANCEL_BOOKING = """
SELECT outcome, booking, details, lock_wait_s, offers, published
FROM bookings.cancel_booking($1, $2, $3, $4, $5, $6)
"""

GET_BOOKING = "SELECT * FROM bookings.bookings WHERE id = $1"

# One page of a user's bookings, newest first, with the total; filters are optional.
LIST_USER_BOOKINGS = """
WITH mine AS (
    SELECT b FROM bookings.bookings b
    WHERE b.user_id = $1
      AND ($4::bigint IS NULL OR b.event_id = $4)
      AND ($5::text IS NULL OR b.status = $5)),
page AS (
    SELECT m.b, s AS summary FROM mine m
    LEFT JOIN bookings.event_summaries s ON s.event_id = (m.b).event_id
    ORDER BY (m.b).id DESC LIMIT $2 OFFSET $3)
SELECT (SELECT count(*) FROM mine) AS total,
       (SELECT coalesce(array_agg(b ORDER BY (b).id DESC), '{}') FROM page) AS items,
       (SELECT coalesce(array_agg(summary ORDER BY (b).id DESC), '{}') FROM page) AS events
"""

APPLY_EVENT_SUMMARY = "SELECT bookings.apply_event_summary($1, $2, $3, $4, $5, $6)"

# Whether the event's holds need an admission token (admission.py); newest version wins.
APPLY_WAITING_ROOM = """
    INSERT INTO bookings.waiting_rooms AS w (event_id, version, required, fail_open)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (event_id) DO UPDATE SET version = EXCLUDED.version,
        required = EXCLUDED.required, fail_open = EXCLUDED.fail_open
    WHERE w.version < EXCLUDED.version"""
EVENTS_REQUIRING_ADMISSION = "SELECT event_id, fail_open FROM bookings.waiting_rooms WHERE required"

# Whether the event's holds need a verified email (verified_email.py); newest version wins.
APPLY_VERIFIED_EMAIL = """
    INSERT INTO bookings.verified_email_events AS v (event_id, version, required)
    VALUES ($1, $2, $3)
    ON CONFLICT (event_id) DO UPDATE SET version = EXCLUDED.version, required = EXCLUDED.required
    WHERE v.version < EXCLUDED.version"""
EVENTS_REQUIRING_VERIFIED_EMAIL = (
    "SELECT event_id FROM bookings.verified_email_events WHERE required"
)

# Issues the booking's missing tickets ($2: seat i's code at i) if it is confirmed, and
# returns all its tickets by seat (sql/issue_tickets.sql).
ISSUE_TICKETS = "SELECT * FROM bookings.issue_tickets($1, $2)"

# The deferred issuer's batch: $1/$2/$3 are per seat (booking, seat, code); returns the
# number of tickets inserted (sql/issue_ticket_batch.sql).
ISSUE_TICKET_BATCH = "SELECT bookings.issue_ticket_batch($1, $2, $3)"

# Confirmed bookings missing some of their tickets (a crash lost the issuer's queue),
# a page at a time by id. Read at start-up only: it scans the confirmed bookings.
CONFIRMED_WITHOUT_ALL_TICKETS = """
SELECT b.id, b.event_id, b.quantity FROM bookings.bookings b
WHERE b.status = 'confirmed' AND b.id > $1
  AND (SELECT count(*) FROM bookings.tickets t WHERE t.booking_id = b.id) < b.quantity
ORDER BY b.id LIMIT $2
"""

# The same for one event (every one of them; a check-in list needs them all).
EVENT_CONFIRMED_WITHOUT_ALL_TICKETS = """
SELECT b.id, b.event_id, b.quantity FROM bookings.bookings b
WHERE b.event_id = $1 AND b.status = 'confirmed'
  AND (SELECT count(*) FROM bookings.tickets t WHERE t.booking_id = b.id) < b.quantity
"""

BOOKING_TICKETS = "SELECT * FROM bookings.tickets WHERE booking_id = $1 ORDER BY seat"

# One scan: checks the ticket in unless a scan did before; returns the result and the
# ticket row (sql/check_in_ticket.sql).
CHECK_IN_TICKET = "SELECT result, ticket FROM bookings.check_in_ticket($1, $2, $3, $4)"

# The offline check-in list: every ticket of an event, void ones too, in issue order.
EVENT_TICKETS = """
SELECT t.code, t.booking_id, t.seat, t.status, t.checked_in_at, t.checked_in_gate,
       bookings.ticket_seat(b.seats, t.seat) AS assigned_seat
FROM bookings.tickets t JOIN bookings.bookings b ON b.id = t.booking_id
WHERE t.event_id = $1 ORDER BY t.id
"""

# The seat a scanned ticket admits to (JSON text; null for general admission).
TICKET_SEAT = "SELECT bookings.ticket_seat(seats, $2) FROM bookings.bookings WHERE id = $1"

EXPIRED_HOLD_EVENTS = """
SELECT DISTINCT event_id FROM bookings.bookings
WHERE status = 'held' AND hold_expires_at <= now()
LIMIT $1
"""

EXPIRE_HOLDS = """
SELECT expired, offers_expired, offers, lock_wait_s, published
FROM bookings.expire_holds($1, $2, $3, $4, $5)
"""

PURGE_IDEMPOTENCY_KEYS = """
DELETE FROM bookings.idempotency_keys
WHERE ctid IN (SELECT ctid FROM bookings.idempotency_keys
               WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)
"""

JOIN_WAITLIST = """
SELECT outcome, entry, place_in_line, details, lock_wait_s
FROM bookings.join_waitlist($1, $2, $3, $4, $5, $6)
"""

LEAVE_WAITLIST = """
SELECT outcome, entry, place_in_line, lock_wait_s, offers, published
FROM bookings.leave_waitlist($1, $2, $3, $4, $5)
"""

# The caller's latest entry for the event (any status), with its place in line.
MY_WAITLIST_ENTRY = """
SELECT e.*, bookings.waitlist_position(e) AS place_in_line
FROM bookings.waitlist_entries e
WHERE e.event_id = $1 AND e.user_id = $2
ORDER BY e.id DESC LIMIT 1
"""

APPLY_EVENT_CHANGED = """
SELECT applied, clamped, requested_capacity, new_capacity, reserved_seats, offers, published,
       reseat_refused
FROM bookings.apply_event_changed(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    true, $21::text::jsonb, $22::text::jsonb)
"""

PUBLISH_INVENTORY = "SELECT bookings.publish_inventory($1, $2, $3, $4)"

UNPUBLISHED_EVENTS = "SELECT bookings.unpublished_events($1) AS event_id"

AVAILABILITY = "SELECT * FROM bookings.availability($1)"

# The stream shows only events the public may see.
PUBLIC_AVAILABILITY = "SELECT * FROM bookings.availability($1) WHERE status <> 'draft'"

# A seated event's availability with its seats as last published (the streams' seat
# snapshot; no row for general admission), and every seat kept back for a channel (shown
# kept_back while free): one statement, so one snapshot.
PUBLISHED_SEATS = """
    SELECT p.*, bookings.channel_seat_ids($1) AS channel_seats
    FROM bookings.published_seats($1) p"""

# A seated event's seats that are not free now (the internal seat status endpoint).
LIVE_SEAT_STATUS = "SELECT * FROM bookings.live_seat_status($1)"

EVENT_IS_SEATED = "SELECT EXISTS (SELECT 1 FROM bookings.event_seating WHERE event_id = $1)"

# --- refunds (docs/payments.md; sql/refunds.sql) -------------------------------------

CLAIM_REFUNDS = "SELECT * FROM bookings.claim_refunds($1, $2)"

RECORD_REFUND_ATTEMPT = "SELECT * FROM bookings.record_refund_attempt($1, $2, $3, $4, $5, $6)"

# $1: our refund id (or NULL), $2: the provider's refund id, $3: status, $4: error.
RESOLVE_REFUND = "SELECT * FROM bookings.resolve_refund($1, $2, $3, $4)"

BOOKING_REFUND = "SELECT * FROM bookings.refunds WHERE booking_id = $1"

# --- event cancellation (sql/cancel_event_bookings.sql) ------------------------------

# Cancelled events that still have held or confirmed bookings: what the canceller owes.
CANCELLED_EVENTS_WITH_BOOKINGS = """
SELECT i.event_id FROM bookings.inventory i
WHERE i.status = 'cancelled'
  AND EXISTS (SELECT 1 FROM bookings.bookings b
              WHERE b.event_id = i.event_id AND b.status IN ('held', 'confirmed'))
ORDER BY i.event_id LIMIT $1
"""

CANCEL_EVENT_BOOKINGS = """
SELECT cancelled, refunds, lock_wait_s, lock_held_s, published
FROM bookings.cancel_event_bookings($1, $2, $3, $4, $5)
"""

# --- payment intents (bookings/payment_intents.py; sql/refunds.sql) --------------------

REFUND_UNCONFIRMED_PAYMENT = "SELECT bookings.refund_unconfirmed_payment($1, $2)"

# --- seat maps and seat inventory (docs/seating.md; bookings/seat_map_fetch.py) -------

SEAT_MAP_VERSION_STORED = """
SELECT EXISTS (SELECT 1 FROM bookings.seat_map_versions WHERE map_id = $1 AND map_version = $2)
"""

# The version row is the claim: a concurrent replica storing the same version gets NULL.
CLAIM_SEAT_MAP_VERSION = """
INSERT INTO bookings.seat_map_versions (map_id, map_version, seats, sellable_seats)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true
"""

# $3..$17: one array per column, in document order; flags comma-joined; the last four
# are best-available's layout (best_available.SeatLayout, migration 0020).
STORE_SEAT_MAP_SEATS = """
INSERT INTO bookings.seat_map_seats (map_id, map_version, seat_id, position, label, section,
                                     row_id, rank, zone, x, y, flags, section_label, row_label,
                                     row_pos, block, row_centre, row_order)
SELECT $1, $2, t.seat_id, t.position::integer, t.label, t.section, t.row_id, t.rank, t.zone,
       t.x, t.y, CASE WHEN t.flags = '' THEN '{}' ELSE string_to_array(t.flags, ',') END,
       t.section_label, t.row_label, t.row_pos, t.block, t.row_centre, t.row_order
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::text[],
            $9::double precision[], $10::double precision[], $11::text[], $12::text[],
            $13::text[], $14::integer[], $15::integer[], $16::double precision[],
            $17::integer[])
     WITH ORDINALITY AS t(seat_id, label, section, row_id, rank, zone, x, y, flags,
                          section_label, row_label, row_pos, block, row_centre, row_order,
                          position)
"""

SEAT_MAP_SEATS = """
SELECT seat_id, label, section, row_id, rank, zone, x, y, flags,
       coalesce(section_label, section) AS section_label, coalesce(row_label, row_id) AS row_label
FROM bookings.seat_map_seats WHERE map_id = $1 AND map_version = $2 ORDER BY position
"""

# A seated event's version, its seat stamp and the seats stamped above $2 (migration
# 0014), taken (held, sold, blocked, or kept back for a channel: migration 0016) or free:
# what best-available picks from
# (bookings/seat_picker.py); $2 = -1 reads every seat. One statement, one snapshot. No
# row: not seated.
EVENT_SEAT_CHANGES = """
SELECT s.map_id, s.map_version, s.seat_changes,
       ARRAY(SELECT e.seat_id FROM bookings.event_seats e
             WHERE e.event_id = s.event_id AND e.changed > $2
               AND (e.status <> 'free' OR e.channel IS NOT NULL)) AS taken,
       ARRAY(SELECT e.seat_id FROM bookings.event_seats e
             WHERE e.event_id = s.event_id AND e.changed > $2
               AND e.status = 'free' AND e.channel IS NULL) AS freed
FROM bookings.event_seating s WHERE s.event_id = $1
"""
