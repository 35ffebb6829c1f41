"""Every SQL statement of the bookings service, by name.

The write paths are PL/pgSQL functions defined in ``sql/`` (one file per operation);
each call below is a single statement, so it runs as its own transaction in ONE round
trip: the function takes its advisory locks, checks and writes, and returns an outcome.
"""

from __future__ import annotations

# One row per request of the batch, in order.
HOLD_SEATS = """
SELECT outcome, body, lock_wait_s
FROM bookings.hold_seats($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""

# One row per request of the batch, in order.
CONFIRM_BOOKINGS = """
SELECT outcome, body, event_id FROM bookings.confirm_bookings($1, $2, $3, $4)
"""

BOOKING_OWNER = "SELECT event_id, user_id FROM bookings.bookings WHERE id = $1"

CANCEL_BOOKING = """
SELECT outcome, body, lock_wait_s, offers, published
FROM bookings.cancel_booking($1, $2, $3, $4, $5, $6)
"""

GET_BOOKING = """
SELECT b.user_id, bookings.booking_json(b)::text AS body
FROM bookings.bookings b WHERE b.id = $1
"""

# One page of a user's bookings, newest first, with the total; filters are optional.
LIST_USER_BOOKINGS = """
WITH mine AS (
    SELECT * FROM bookings.bookings
    WHERE user_id = $1
      AND ($4::bigint IS NULL OR event_id = $4)
      AND ($5::text IS NULL OR status = $5))
SELECT (SELECT count(*) FROM mine) AS total,
       (SELECT coalesce(jsonb_agg(bookings.booking_json(p) ORDER BY p.id DESC), '[]'::jsonb)
        FROM (SELECT * FROM mine ORDER BY id DESC LIMIT $2 OFFSET $3) p)::text AS items
"""

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
SELECT outcome, body, lock_wait_s FROM bookings.join_waitlist($1, $2, $3, $4, $5, $6)
"""

LEAVE_WAITLIST = """
SELECT outcome, body, lock_wait_s, offers, published
FROM bookings.leave_waitlist($1, $2, $3, $4, $5)
"""

# The caller's latest entry for the event (any status), with its place in line.
MY_WAITLIST_ENTRY = """
SELECT bookings.waitlist_entry_view(e)::text
FROM bookings.waitlist_entries e
WHERE e.event_id = $1 AND e.user_id = $2
ORDER BY e.id DESC LIMIT 1
"""

APPLY_EVENT_CHANGED = """
SELECT applied, clamped, requested_capacity, new_capacity, reserved_seats, offers, published
FROM bookings.apply_event_changed($1::jsonb, $2, $3, $4, $5)
"""

PUBLISH_INVENTORY = "SELECT bookings.publish_inventory($1, $2, $3, $4)"

UNPUBLISHED_EVENTS = "SELECT bookings.unpublished_events($1) AS event_id"

AVAILABILITY = "SELECT bookings.availability($1)::text"

# The stream shows only events the public may see.
PUBLIC_AVAILABILITY = """
SELECT bookings.availability(event_id)::text FROM bookings.inventory
WHERE event_id = $1 AND status <> 'draft'
"""
