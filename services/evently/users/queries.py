"""Every SQL statement of the users service, by name."""

from __future__ import annotations

_USER_COLUMNS = (
    "id, email, password_hash, name, phone, roles, permissions, created_at, updated_at, "
    "deactivated_at, email_verified_at IS NOT NULL AS email_verified"
)

# --- accounts -------------------------------------------------------------------------

INSERT_USER = f"""
INSERT INTO users.users (email, password_hash, name, phone, roles, permissions)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING {_USER_COLUMNS}
"""

USER_BY_ID = f"SELECT {_USER_COLUMNS} FROM users.users WHERE id = $1"

USER_BY_EMAIL = f"SELECT {_USER_COLUMNS} FROM users.users WHERE lower(email) = lower($1)"

USER_BY_EMAIL_FOR_UPDATE = f"""
SELECT {_USER_COLUMNS} FROM users.users WHERE lower(email) = lower($1) FOR UPDATE
"""

# NULL parameters leave a column as it is; $5 clears the phone.
UPDATE_PROFILE = f"""
UPDATE users.users SET
    email = coalesce($2, email),
    name = coalesce($3, name),
    phone = CASE WHEN $5 THEN NULL ELSE coalesce($4, phone) END,
    updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

UPDATE_ROLE_AND_PASSWORD = f"""
UPDATE users.users
SET roles = $2, permissions = $3, password_hash = $4, updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

USERS_TABLE_EXISTS = "SELECT to_regclass('users.users') IS NOT NULL"

# --- refresh tokens -------------------------------------------------------------------

INSERT_REFRESH_TOKEN = """
INSERT INTO users.refresh_tokens (token_hash, family_id, user_id, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
RETURNING expires_at
"""

# Locks the presented token so two concurrent refreshes with it are serialised: the
# second one sees ``used_at`` set and is treated as reuse.
REFRESH_TOKEN_FOR_UPDATE = """
SELECT id, family_id, user_id, expires_at <= now() AS expired, used_at, revoked_at
FROM users.refresh_tokens
WHERE token_hash = $1
FOR UPDATE
"""

MARK_REFRESH_TOKEN_USED = "UPDATE users.refresh_tokens SET used_at = now() WHERE id = $1"

REVOKE_REFRESH_FAMILY = """
UPDATE users.refresh_tokens SET revoked_at = now(), revoked_reason = $2
WHERE family_id = $1 AND revoked_at IS NULL
"""

REVOKE_REFRESH_FAMILY_OF_TOKEN = """
UPDATE users.refresh_tokens SET revoked_at = now(), revoked_reason = $2
WHERE family_id = (SELECT family_id FROM users.refresh_tokens WHERE token_hash = $1)
  AND revoked_at IS NULL
"""

SET_PASSWORD = f"""
UPDATE users.users SET password_hash = $2, updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

REVOKE_USER_REFRESH_TOKENS = """
UPDATE users.refresh_tokens SET revoked_at = now(), revoked_reason = $2
WHERE user_id = $1 AND revoked_at IS NULL
"""

# Rows past their expiry by more than the grace period are no longer needed to detect reuse.
PURGE_EXPIRED_REFRESH_TOKENS = """
DELETE FROM users.refresh_tokens WHERE expires_at < now() - make_interval(secs => $1)
"""

# --- login throttle -------------------------------------------------------------------

# Atomically counts one attempt in each bucket: a bucket whose window has ended starts
# a new one. Rows are locked in bucket order, so concurrent logins cannot deadlock.
COUNT_LOGIN_ATTEMPT = """
INSERT INTO users.login_throttle AS t (bucket, attempts, window_ends_at)
SELECT b.bucket, 1, now() + make_interval(secs => b.window_s)
FROM unnest($1::text[], $2::float8[]) AS b (bucket, window_s)
ORDER BY b.bucket
ON CONFLICT (bucket) DO UPDATE SET
    attempts = CASE WHEN t.window_ends_at <= now() THEN 1 ELSE t.attempts + 1 END,
    window_ends_at = CASE
        WHEN t.window_ends_at <= now() THEN EXCLUDED.window_ends_at
        ELSE t.window_ends_at
    END
RETURNING bucket, attempts, window_ends_at,
    ceil(extract(epoch FROM window_ends_at - now()))::int AS retry_after_s
"""

# Gives an attempt back (a successful login does not count), but only within the same
# window it was counted in.
REFUND_LOGIN_ATTEMPT = """
UPDATE users.login_throttle AS t SET attempts = t.attempts - 1
FROM unnest($1::text[], $2::timestamptz[]) AS b (bucket, window_ends_at)
WHERE t.bucket = b.bucket AND t.window_ends_at = b.window_ends_at AND t.attempts > 0
"""

PURGE_ENDED_LOGIN_WINDOWS = "DELETE FROM users.login_throttle WHERE window_ends_at < now()"

# --- admin actions on accounts --------------------------------------------------------

USER_BY_ID_FOR_UPDATE = f"SELECT {_USER_COLUMNS} FROM users.users WHERE id = $1 FOR UPDATE"

SET_DEACTIVATED = f"""
UPDATE users.users
SET deactivated_at = CASE WHEN $2::boolean THEN now() END, updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

SET_ROLES = f"""
UPDATE users.users SET roles = $2, permissions = $3, updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

SET_PERMISSIONS = f"""
UPDATE users.users SET permissions = $2, updated_at = now()
WHERE id = $1
RETURNING {_USER_COLUMNS}
"""

# Other active admins than $1, locked: demoting the last one is refused.
OTHER_ACTIVE_ADMINS = """
SELECT id FROM users.users
WHERE 'admin' = ANY (roles) AND deactivated_at IS NULL AND id <> $1
FOR UPDATE
"""

INSERT_AUDIT = """
INSERT INTO users.audit_log (actor_id, action, user_id, details) VALUES ($1, $2, $3, $4)
"""

AUDIT_FOR_USER = """
SELECT id, at, actor_id, action, user_id, details FROM users.audit_log
WHERE user_id = $1 ORDER BY id DESC LIMIT $2
"""

# --- account tokens (password reset, email verification) ---------------------------------

INSERT_ACCOUNT_TOKEN = """
INSERT INTO users.account_tokens (token_hash, purpose, user_id, email, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
RETURNING id, expires_at
"""

REDEEM_ACCOUNT_TOKEN = """
UPDATE users.account_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING user_id, email
"""

# Once a reset succeeded, the account's other reset links are void too.
VOID_ACCOUNT_TOKENS = """
UPDATE users.account_tokens SET used_at = now()
WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
"""

SET_EMAIL_VERIFIED = f"""
UPDATE users.users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
WHERE id = $1 AND email = $2
RETURNING {_USER_COLUMNS}
"""

PURGE_OLD_ACCOUNT_TOKENS = """
DELETE FROM users.account_tokens WHERE expires_at < now() - interval '1 day'
"""
