-- The seats a seated waitlist offer takes (docs/seating.md, "Seated waitlist"):
-- best-available's rule for a plain request of p_quantity seats in any zone
-- (best_available.py and docs/seating.md "The rule": adjacent free seats in one block of
-- one row; the smallest (flag tier, creates an orphan, row rank, distance to the row's
-- centre, row order, leftmost)), over the free public seats (not kept back for a
-- channel). NULL when no block of the event can take them together.
--
-- Promotion runs in SQL inside the transaction that frees the seats, under the event's
-- lock, where the Python picker cannot be asked. What the rule needs of the map is
-- static per version and comes from the picker itself (each seat's position in its row,
-- block, row centre and order: SeatIndex.layout, migration 0020), so this reads the free
-- seats only: runs of consecutive positions in a block, and each placement in them.
-- tests/bookings/test_waitlist_pick.py checks it against SeatIndex.choose on random
-- maps and occupancies.
CREATE OR REPLACE FUNCTION bookings.best_available_seats(
    p_event_id bigint, p_map_id bigint, p_map_version integer, p_quantity integer)
RETURNS text[] LANGUAGE sql STABLE AS $$
    WITH free AS (
        SELECT m.seat_id, m.section, m.row_id, m.block, m.row_pos, m.x, m.rank,
               m.row_centre, m.row_order,
               ('accessible' = ANY (m.flags))::integer AS accessible,
               ('companion' = ANY (m.flags) AND 'accessible' <> ALL (m.flags))::integer
                   AS companion,
               m.row_pos - row_number() OVER (PARTITION BY m.section, m.row_id, m.block
                                              ORDER BY m.row_pos) AS run
        FROM bookings.event_seats s
        JOIN bookings.seat_map_seats m
          ON m.map_id = p_map_id AND m.map_version = p_map_version AND m.seat_id = s.seat_id
        WHERE s.event_id = p_event_id AND s.status = 'free' AND s.channel IS NULL
          AND 'blocked' <> ALL (m.flags)
    ),
    -- Each run of free seats (consecutive positions in one block) and, per seat, the
    -- accessible and companion seats from the run's start up to it.
    counted AS (
        SELECT f.*,
               min(f.row_pos) OVER g AS run_start, max(f.row_pos) OVER g + 1 AS run_end,
               sum(f.accessible) OVER k AS accessible_upto,
               sum(f.companion) OVER k AS companion_upto
        FROM free f
        WINDOW g AS (PARTITION BY f.section, f.row_id, f.block, f.run),
               k AS (PARTITION BY f.section, f.row_id, f.block, f.run ORDER BY f.row_pos)
    ),
    -- Each placement, by its first seat: the seats from it to p_quantity - 1 further on.
    placements AS (
        SELECT c.section, c.row_id, c.row_pos AS start, c.run_start, c.run_end, c.rank,
               c.row_order, c.row_centre, c.x AS first_x,
               lead(c.x, p_quantity - 1) OVER k AS last_x,
               lead(c.seat_id, p_quantity - 1) OVER k AS last_seat,
               lead(c.accessible_upto, p_quantity - 1) OVER k - c.accessible_upto
                   + c.accessible AS accessible,
               lead(c.companion_upto, p_quantity - 1) OVER k - c.companion_upto
                   + c.companion AS companion
        FROM counted c
        WHERE c.run_end - c.run_start >= p_quantity
        WINDOW k AS (PARTITION BY c.section, c.row_id, c.block, c.run ORDER BY c.row_pos)
    ),
    best AS (
        SELECT p.section, p.row_id, p.start FROM placements p
        WHERE p.last_seat IS NOT NULL
        ORDER BY CASE WHEN p.accessible > 0 THEN 2 WHEN p.companion > 0 THEN 1 ELSE 0 END,
                 p.start - p.run_start = 1 OR p.run_end - (p.start + p_quantity) = 1,
                 p.rank, abs((p.first_x + p.last_x) / 2 - p.row_centre), p.row_order, p.start
        LIMIT 1
    )
    SELECT array_agg(f.seat_id ORDER BY f.row_pos)
    FROM best b
    JOIN free f ON f.section = b.section AND f.row_id = b.row_id
               AND f.row_pos >= b.start AND f.row_pos < b.start + p_quantity
$$;
