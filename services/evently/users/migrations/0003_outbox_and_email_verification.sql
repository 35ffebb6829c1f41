-- The users outbox (docs/outbox.md): user.changed tells other services (notifications)
-- each account's address, name and verification, so none of them reads users.users.
-- version orders an account's messages; email_verified_at is set by email verification.
ALTER TABLE users.users
    ADD COLUMN version bigint NOT NULL DEFAULT 1,
    ADD COLUMN email_verified_at timestamptz;

CREATE TABLE users.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer        text,
    topic           text        NOT NULL,
    key             text        NOT NULL,
    version         bigint      NOT NULL,
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX outbox_pending_idx ON users.outbox (consumer, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_pending_key_idx ON users.outbox (consumer, key, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON users.outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- Accounts created before the outbox existed are announced once.
INSERT INTO users.outbox (topic, key, version, payload)
SELECT 'user.changed', id::text, version,
       jsonb_build_object('id', id, 'version', version, 'email', email,
                          'email_verified', false, 'name', name,
                          'active', deactivated_at IS NULL)
FROM users.users ORDER BY id;
