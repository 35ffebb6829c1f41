-- Best-available's layout of each stored seat (best_available.SeatLayout), static per
-- map version: its position in its row in x order, its block (aisles before it), its
-- row's centre and the row's document order. With them, a seated waitlist's offer
-- (sql/waitlist_pick.sql) applies best-available's rule to the free seats alone, without
-- reading whole rows under the event's lock. New versions are stored with them
-- (seat_map_fetch.store_seats, from SeatIndex.layout); the versions stored before this
-- are computed here once, by the same rule (AISLE_FACTOR 1.5, the lower median pitch).
ALTER TABLE bookings.seat_map_seats
    ADD COLUMN row_pos integer,
    ADD COLUMN block integer,
    ADD COLUMN row_centre double precision,
    ADD COLUMN row_order integer;

WITH ordered AS (
    SELECT m.map_id, m.map_version, m.section, m.row_id, m.seat_id,
           row_number() OVER w - 1 AS row_pos,
           (min(m.x) OVER r + max(m.x) OVER r) / 2 AS row_centre,
           min(m.position) OVER r AS first_position,
           sqrt((m.x - lag(m.x) OVER w) ^ 2 + (m.y - lag(m.y) OVER w) ^ 2) AS step
    FROM bookings.seat_map_seats m
    WINDOW w AS (PARTITION BY m.map_id, m.map_version, m.section, m.row_id
                 ORDER BY m.x, m.y, m.seat_id COLLATE "C"),
           r AS (PARTITION BY m.map_id, m.map_version, m.section, m.row_id)
),
pitches AS (
    SELECT map_id, map_version, section, row_id,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY step) AS pitch
    FROM ordered WHERE step IS NOT NULL
    GROUP BY map_id, map_version, section, row_id
),
laid_out AS (
    SELECT o.map_id, o.map_version, o.seat_id, o.row_pos, o.row_centre,
           count(*) FILTER (WHERE o.step > 1.5 * p.pitch)
               OVER (PARTITION BY o.map_id, o.map_version, o.section, o.row_id
                     ORDER BY o.row_pos) AS block,
           dense_rank() OVER (PARTITION BY o.map_id, o.map_version
                              ORDER BY o.first_position) - 1 AS row_order
    FROM ordered o
    LEFT JOIN pitches p USING (map_id, map_version, section, row_id)
)
UPDATE bookings.seat_map_seats m
SET row_pos = l.row_pos, block = l.block, row_centre = l.row_centre, row_order = l.row_order
FROM laid_out l
WHERE (m.map_id, m.map_version, m.seat_id) = (l.map_id, l.map_version, l.seat_id);
