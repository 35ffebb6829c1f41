"""Every SQL statement of the notifications service, by name."""

from __future__ import annotations

# --- copies fed by the outbox: each upsert refuses an older version ---------------------

UPSERT_RECIPIENT = """
INSERT INTO notifications.recipients AS r
    (user_id, version, email, email_verified, name, active)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id) DO UPDATE SET
    version = EXCLUDED.version, email = EXCLUDED.email,
    email_verified = EXCLUDED.email_verified, name = EXCLUDED.name,
    active = EXCLUDED.active, updated_at = now()
WHERE r.version < EXCLUDED.version
RETURNING true
"""

EVENT_FOR_UPDATE = """
SELECT event_id, version, name, status, starts_at, ends_at, venue_id, venue_name,
       venue_address, venue_city
FROM notifications.events WHERE event_id = $1 FOR UPDATE
"""

UPSERT_EVENT = """
INSERT INTO notifications.events AS e
    (event_id, version, name, status, starts_at, ends_at, venue_id, venue_name,
     venue_address, venue_city, hold_expiry_reminder_s)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (event_id) DO UPDATE SET
    version = EXCLUDED.version, name = EXCLUDED.name, status = EXCLUDED.status,
    starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
    venue_id = EXCLUDED.venue_id, venue_name = EXCLUDED.venue_name,
    venue_address = EXCLUDED.venue_address, venue_city = EXCLUDED.venue_city,
    hold_expiry_reminder_s = EXCLUDED.hold_expiry_reminder_s, updated_at = now()
WHERE e.version < EXCLUDED.version
RETURNING true
"""

EVENT_BY_ID = """
SELECT event_id, name, starts_at, venue_name, venue_city
FROM notifications.events WHERE event_id = $1
"""

UPSERT_BOOKING = """
INSERT INTO notifications.bookings AS b (booking_id, version, event_id, user_id, status)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (booking_id) DO UPDATE SET
    version = EXCLUDED.version, status = EXCLUDED.status, updated_at = now()
WHERE b.version < EXCLUDED.version
RETURNING true
"""

TICKET_HOLDERS = """
SELECT DISTINCT user_id FROM notifications.bookings
WHERE event_id = $1 AND status = 'confirmed'
ORDER BY user_id
"""

# --- hold reminders (hold_reminders.py) ------------------------------------------------

# A held booking's reminder, due the event's lead (hold_expiry_reminder_s) before the
# hold expires ($5), if the event has the reminder on and the hold, made at $6, lasts
# longer than the lead (else the reminder would be due as the hold is made: none).
RECORD_HOLD_REMINDER = """
INSERT INTO notifications.hold_reminders
    (booking_id, event_id, user_id, quantity, hold_expires_at, due_at)
SELECT $1, $2, $3, $4, $5::timestamptz,
       $5::timestamptz - make_interval(secs => e.hold_expiry_reminder_s)
FROM notifications.events e
WHERE e.event_id = $2 AND e.hold_expiry_reminder_s IS NOT NULL
  AND $5::timestamptz - make_interval(secs => e.hold_expiry_reminder_s) > $6::timestamptz
ON CONFLICT (booking_id) DO NOTHING
"""

# The booking left 'held' (confirmed, cancelled, expired): its reminder is dropped.
SKIP_HOLD_REMINDER = """
UPDATE notifications.hold_reminders SET status = 'skipped', done_at = now()
WHERE booking_id = $1 AND status = 'pending'
"""

# Reminders due at $1, locked for this worker (other replicas skip them) until its
# transaction ends, with whether the booking is still held (as this service last heard)
# and what the mail says about the event.
CLAIM_DUE_HOLD_REMINDERS = """
SELECT h.booking_id, h.event_id, h.user_id, h.quantity, h.hold_expires_at,
       b.status = 'held' AND h.hold_expires_at > $1 AS still_held,
       e.name AS event_name, e.starts_at AS event_starts_at, e.venue_name, e.venue_city
FROM notifications.hold_reminders h
LEFT JOIN notifications.bookings b ON b.booking_id = h.booking_id
LEFT JOIN notifications.events e ON e.event_id = h.event_id
WHERE h.status = 'pending' AND h.due_at <= $1
ORDER BY h.due_at, h.booking_id
LIMIT $2
FOR UPDATE OF h SKIP LOCKED
"""

FINISH_HOLD_REMINDER = """
UPDATE notifications.hold_reminders SET status = $2, done_at = now()
WHERE booking_id = $1 AND status = 'pending'
"""

# --- the mail queue -------------------------------------------------------------------

# A cause already queued (dedup_key) is not queued again.
QUEUE_MAIL = """
INSERT INTO notifications.mails (dedup_key, kind, user_id, to_address, context, message_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# Due mails, locked for this sender (other replicas skip them) until its transaction ends;
# the recipient's copy is joined in (NULL while user.changed has not arrived).
CLAIM_DUE_MAILS = """
SELECT m.id, m.kind, m.user_id, m.context, m.message_id, m.attempts,
       coalesce(m.to_address, r.email) AS address, r.name AS recipient_name
FROM notifications.mails m
LEFT JOIN notifications.recipients r ON r.user_id = m.user_id
WHERE m.status = 'pending' AND m.next_attempt_at <= now()
ORDER BY m.next_attempt_at, m.id
LIMIT $1
FOR UPDATE OF m SKIP LOCKED
"""

# Sent: the ledger keeps the row (and its Message-ID) but not what the mail said.
MARK_SENT = """
UPDATE notifications.mails
SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL,
    context = '{}'::jsonb
WHERE id = ANY($1::bigint[])
"""

MARK_REJECTED = """
UPDATE notifications.mails
SET status = 'rejected', attempts = attempts + 1, last_error = $2, context = '{}'::jsonb
WHERE id = $1
"""

POSTPONE = """
UPDATE notifications.mails
SET attempts = attempts + 1, last_error = $2,
    next_attempt_at = now() + make_interval(secs => $3)
WHERE id = $1
"""

PENDING_MAILS = """
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_s
FROM notifications.mails WHERE status = 'pending'
"""

# --- the per-user stream -----------------------------------------------------------------

# Stored for replay (Last-Event-ID), then announced to every replica's listener once the
# applying transaction commits.
RECORD_NOTIFICATION = """
WITH stored AS (
    INSERT INTO notifications.user_notifications (user_id, type, payload)
    VALUES ($1, $2, $3)
    RETURNING id, user_id)
SELECT pg_notify('notifications_stream', json_build_object('id', id, 'user_id', user_id)::text)
FROM stored
"""

NOTIFICATIONS_AFTER = """
SELECT id, type, payload, created_at FROM notifications.user_notifications
WHERE user_id = $1 AND id > $2
ORDER BY id
LIMIT $3
"""

LATEST_NOTIFICATION_ID = """
SELECT coalesce(max(id), 0) FROM notifications.user_notifications WHERE user_id = $1
"""

NOTIFICATION_BY_ID = """
SELECT id, user_id, type, payload, created_at FROM notifications.user_notifications
WHERE id = $1
"""

PURGE_OLD_NOTIFICATIONS = """
DELETE FROM notifications.user_notifications
WHERE created_at < now() - make_interval(secs => $1)
"""
