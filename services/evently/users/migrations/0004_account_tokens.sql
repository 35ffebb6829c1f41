-- Single-use tokens mailed to an account (users/account_tokens.py): password resets and
-- email verifications. Only the sha256 digest is kept; email is the address the token
-- was mailed to (a verification counts only while it is still the account's email).
CREATE TABLE users.account_tokens (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea       NOT NULL UNIQUE,
    purpose    text        NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    user_id    bigint      NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_idx ON users.account_tokens (user_id, purpose)
    WHERE used_at IS NULL;
CREATE INDEX account_tokens_expires_idx ON users.account_tokens (expires_at);
