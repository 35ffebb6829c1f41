-- "Hold about to expire" mail (issue 17, optional per event; docs/notifications.md).
-- From events: event.changed's hold_expiry_reminder_s (NULL: no reminder).
ALTER TABLE notifications.events ADD COLUMN hold_expiry_reminder_s integer;

-- One reminder per held booking of an event with the reminder on, recorded when its
-- booking.changed 'held' arrives and due lead seconds before the hold expires. The
-- worker (hold_reminders.py) queues the mail at most once (pending -> sent) or drops it
-- (pending -> skipped) when the booking is no longer held or the hold has expired.
CREATE TABLE notifications.hold_reminders (
    booking_id      bigint      PRIMARY KEY,
    event_id        bigint      NOT NULL,
    user_id         bigint      NOT NULL,
    quantity        integer     NOT NULL,
    hold_expires_at timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'skipped')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX hold_reminders_due_idx ON notifications.hold_reminders (due_at)
    WHERE status = 'pending';
