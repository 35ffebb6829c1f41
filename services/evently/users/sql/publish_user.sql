-- user.changed (core/contracts.py UserChanged) for every account change other services
-- care about, written in the changing transaction by triggers, so no writer (the API,
-- the CLI, admin actions) can forget it. A new email is unverified until confirmed.

CREATE OR REPLACE FUNCTION users.bump_user_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email IS DISTINCT FROM OLD.email THEN
        NEW.email_verified_at := NULL;
    END IF;
    IF (NEW.email, NEW.name, NEW.email_verified_at, NEW.deactivated_at)
       IS DISTINCT FROM (OLD.email, OLD.name, OLD.email_verified_at, OLD.deactivated_at) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION users.publish_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    INSERT INTO users.outbox (topic, key, version, payload)
    VALUES ('user.changed', NEW.id::text, NEW.version,
            jsonb_build_object('id', NEW.id, 'version', NEW.version, 'email', NEW.email,
                               'email_verified', NEW.email_verified_at IS NOT NULL,
                               'name', NEW.name, 'active', NEW.deactivated_at IS NULL));
    PERFORM pg_notify('users_outbox', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS users_bump_version ON users.users;
CREATE TRIGGER users_bump_version BEFORE UPDATE ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.bump_user_version();

DROP TRIGGER IF EXISTS users_publish_changed ON users.users;
CREATE TRIGGER users_publish_changed AFTER INSERT OR UPDATE ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.publish_user_changed();
