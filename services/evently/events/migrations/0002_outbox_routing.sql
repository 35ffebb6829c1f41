-- A message is written once, without a consumer; the relay routes it to the topic's
-- consumers (core/contracts.py). Rows written before this keep their consumer.
ALTER TABLE events.outbox ALTER COLUMN consumer DROP NOT NULL;
