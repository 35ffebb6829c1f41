-- Two per-event hold policies of issue 17, validated by the API (events/models.py) and
-- carried in event.changed: holds need a verified email (docs/bookings.md), and the
-- buyer of a hold is mailed a reminder this many seconds before it expires (NULL: none;
-- docs/notifications.md).
ALTER TABLE events.events
    ADD COLUMN require_verified_email boolean NOT NULL DEFAULT false,
    ADD COLUMN hold_expiry_reminder_s integer
        CHECK (hold_expiry_reminder_s BETWEEN 30 AND 86400);
