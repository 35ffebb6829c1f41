-- The notifications service: its own copies of what it needs to address and word mail
-- (fed only by outbox messages through POST /internal/inbox), the mail queue that is
-- also the ledger of sent mail, and the per-user stream of notifications.

CREATE TABLE notifications.inbox (
    source      text        NOT NULL,
    message_id  bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);

-- From users: user.changed (where to send a user's mail).
CREATE TABLE notifications.recipients (
    user_id        bigint      PRIMARY KEY,
    version        bigint      NOT NULL,
    email          text        NOT NULL,
    email_verified boolean     NOT NULL,
    name           text        NOT NULL,
    active         boolean     NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- From events: event.changed (what mail says about an event; what changed since).
CREATE TABLE notifications.events (
    event_id      bigint      PRIMARY KEY,
    version       bigint      NOT NULL,
    name          text        NOT NULL,
    status        text        NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    venue_id      bigint      NOT NULL,
    venue_name    text        NOT NULL,
    venue_address text        NOT NULL,
    venue_city    text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- From bookings: booking.changed (who holds confirmed tickets for an event).
CREATE TABLE notifications.bookings (
    booking_id bigint      PRIMARY KEY,
    version    bigint      NOT NULL,
    event_id   bigint      NOT NULL,
    user_id    bigint      NOT NULL,
    status     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_event_status_idx ON notifications.bookings (event_id, status);

-- Every mail, queued in the transaction that applied the message causing it. dedup_key
-- names its cause (e.g. booking_confirmed:42), so no cause mails twice; message_id is
-- fixed here, so a resend after an unclear failure carries the same Message-ID.
-- Pending mails wait for next_attempt_at; an SMTP outage only delays them.
CREATE TABLE notifications.mails (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key       text        NOT NULL UNIQUE,
    kind            text        NOT NULL,
    user_id         bigint,               -- addressed through recipients at send time
    to_address      text,                 -- or to this address (account mail)
    context         jsonb       NOT NULL, -- what the template needs; emptied once sent
    message_id      text        NOT NULL UNIQUE,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'rejected')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK (user_id IS NOT NULL OR to_address IS NOT NULL)
);
CREATE INDEX mails_due_idx ON notifications.mails (next_attempt_at, id) WHERE status = 'pending';

-- What each user's notification stream (GET /api/v1/notifications/stream) carries; kept
-- a day so a reconnecting client resumes from Last-Event-ID.
CREATE TABLE notifications.user_notifications (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL,
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_notifications_user_idx ON notifications.user_notifications (user_id, id);
CREATE INDEX user_notifications_created_idx ON notifications.user_notifications (created_at);
