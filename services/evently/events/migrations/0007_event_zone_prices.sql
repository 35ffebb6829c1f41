-- Per-zone prices of a seated event (issue 18, docs/seating.md "Zone prices"): zone id ->
-- price as a decimal string with two places ({"premium": "89.00"}). A zone not named
-- costs the event's price; general admission has none ({}).
ALTER TABLE events.events ADD COLUMN zone_prices jsonb NOT NULL DEFAULT '{}';
