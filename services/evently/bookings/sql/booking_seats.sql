-- The seats of a new seated booking as the booking keeps them, and what they cost
-- (docs/seating.md, "Labels" and "Zone prices"): JSON text
-- [{id, label, section, row, zone, section_label, row_label, price}] in map order, and
-- the sum of the prices (each seat its zone's price, else p_unit_price). The one shape
-- for a seat hold (sql/hold_seats.sql) and a seated waitlist offer
-- (sql/promote_waitlist.sql).
CREATE OR REPLACE FUNCTION bookings.booking_seats(
    p_seating bookings.event_seating, p_unit_price numeric, p_seat_ids text[],
    OUT seats_json text, OUT amount numeric)
LANGUAGE sql STABLE AS $$
    SELECT jsonb_agg(jsonb_build_object('id', m.seat_id, 'label', m.label,
                                        'section', m.section, 'row', m.row_id,
                                        'zone', m.zone,
                                        'section_label', coalesce(m.section_label, m.section),
                                        'row_label', coalesce(m.row_label, m.row_id),
                                        'price', coalesce(p_seating.zone_prices->>m.zone,
                                                          p_unit_price::text))
                     ORDER BY m.position)::text,
           sum(coalesce((p_seating.zone_prices->>m.zone)::numeric, p_unit_price))
    FROM bookings.seat_map_seats m
    WHERE m.map_id = p_seating.map_id AND m.map_version = p_seating.map_version
      AND m.seat_id = ANY (p_seat_ids)
$$;
