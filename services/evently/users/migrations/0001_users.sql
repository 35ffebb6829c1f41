-- Accounts, refresh-token families and the login throttle of the users service.

CREATE TABLE users.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Always stored normalised (trimmed, lower-cased) by the service.
    email         text        NOT NULL CHECK (email <> '' AND email = btrim(email)),
    password_hash text        NOT NULL,
    name          text        NOT NULL DEFAULT '',
    phone         text,
    roles         text[]      NOT NULL DEFAULT '{customer}',
    permissions   text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One account per normalised email; lower() guards against a writer that forgot to normalise.
CREATE UNIQUE INDEX users_email_key ON users.users (lower(email));

-- Opaque refresh tokens, stored as sha256 digests. Each login starts a family; every
-- refresh marks the presented token used and issues its successor in the same family.
CREATE TABLE users.refresh_tokens (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash     bytea       NOT NULL UNIQUE,
    family_id      uuid        NOT NULL,
    user_id        bigint      NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX refresh_tokens_family_idx ON users.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON users.refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON users.refresh_tokens (expires_at);

-- Login attempts per bucket ('account:<digest>' or 'address:<ip>'), one fixed window per
-- bucket starting at its first attempt; shared by every replica.
CREATE TABLE users.login_throttle (
    bucket         text        PRIMARY KEY,
    attempts       integer     NOT NULL,
    window_ends_at timestamptz NOT NULL
);
CREATE INDEX login_throttle_window_idx ON users.login_throttle (window_ends_at);
