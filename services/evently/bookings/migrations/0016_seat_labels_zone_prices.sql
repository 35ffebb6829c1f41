-- Reserved seating, the missing pieces (issue 18, docs/seating.md).
-- Labels: bookings' copy of a map version keeps each seat's section and row labels, so a
-- booking's seats and its tickets print what the venue prints (a section's id is not its
-- label on most hand-made maps). Versions stored before this have none (NULL): their
-- seats show the ids, as before.
ALTER TABLE bookings.seat_map_seats
    ADD COLUMN section_label text,
    ADD COLUMN row_label text;
