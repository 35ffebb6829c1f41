-- Per-zone prices of a seated event (issue 18, docs/seating.md "Zone prices"): zone id ->
-- price as a decimal string with two places ({"premium": "89.00"}). A zone not named
-- costs the event's price; general admission has none ({}).
ALTER TABLE events.events ADD COLUMN zone_prices jsonb NOT NULL DEFAULT '{}';

-- Channel allocations of a seated event (docs/seating.md "Channel allocations"): channel
-- name -> the seat ids kept back for it ({"promoter-x": ["S1-A-1", ...]}), held only by
-- an admin or an account granted channels:hold, and released to public sale by editing
-- them out. General admission has none ({}).
ALTER TABLE events.events ADD COLUMN seat_channels jsonb NOT NULL DEFAULT '{}';
