-- Reserved seating, the missing pieces (issue 18, docs/seating.md).
-- Labels: bookings' copy of a map version keeps each seat's section and row labels, so a
-- booking's seats and its tickets print what the venue prints (a section's id is not its
-- label on most hand-made maps). Versions stored before this have none (NULL): their
-- seats show the ids, as before.
ALTER TABLE bookings.seat_map_seats
    ADD COLUMN section_label text,
    ADD COLUMN row_label text;

-- Zone prices: a seated event's price per zone (event.changed's seating.zone_prices; a
-- zone not named costs the event's unit_price), and what each booking costs. A seated
-- booking's amount is the sum of its seats' prices when held (each seat in its seats
-- carries its price); a general-admission booking's is unit_price x quantity. NULL (rows
-- stored before this): unit_price x quantity, what they cost then.
ALTER TABLE bookings.event_seating ADD COLUMN zone_prices jsonb NOT NULL DEFAULT '{}';
ALTER TABLE bookings.bookings ADD COLUMN amount numeric(12, 2);

-- A new seating while streams are open (docs/seating.md, "Live seat status"): a seating
-- row starts unpublished, and the publication after it tells the streams to read the
-- seats again ({"resync": true}), so that they learn the new version's blocked seats
-- (diffs never carry blocked seats). The seatings there already are published.
ALTER TABLE bookings.event_seating ADD COLUMN seating_published boolean NOT NULL DEFAULT true;
ALTER TABLE bookings.event_seating ALTER COLUMN seating_published SET DEFAULT false;

-- Channel allocations (docs/seating.md "Channel allocations"): the seats a seated event
-- keeps back for a channel (event.changed's seating.channels). A seat with a channel is
-- held only by a request naming that channel (an admin, or an account granted
-- channels:hold); public holds and best-available never take it. The event's channels
-- as last applied are kept beside them, so an unchanged message rewrites nothing.
ALTER TABLE bookings.event_seats ADD COLUMN channel text;
ALTER TABLE bookings.event_seating ADD COLUMN channels jsonb NOT NULL DEFAULT '{}';
