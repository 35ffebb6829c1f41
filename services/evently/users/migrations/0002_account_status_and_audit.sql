-- Admins deactivate, reactivate and demote accounts and grant staff permissions
-- (admin_actions.py); each action is written to an audit log. A deactivated account cannot log in or refresh.
ALTER TABLE users.users ADD COLUMN deactivated_at timestamptz;

CREATE TABLE users.audit_log (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor_id bigint      NOT NULL,  -- the admin who acted
    action   text        NOT NULL CHECK (action IN
                 ('deactivate', 'reactivate', 'demote', 'grant', 'revoke')),
    user_id  bigint      NOT NULL,  -- the account acted on (kept if it is deleted later)
    details  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_user_idx ON users.audit_log (user_id, id);
