-- The relay sends each new message once to every consumer of its topic and marks it
-- delivered; a consumer that did not acknowledge it gets a copy in its own queue
-- (docs/outbox.md, "Delivery"). A copy is sent under the message's own id, so the
-- consumer's inbox still recognises a message it already applied.
ALTER TABLE users.outbox ADD COLUMN origin_id bigint;
