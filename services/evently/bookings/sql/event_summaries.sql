-- An event's summary as bookings lists it beside a booking (name, start, venue), from
-- event.changed, inside the inbox's transaction; an older version changes nothing.
CREATE OR REPLACE FUNCTION bookings.apply_event_summary(
    p_event_id bigint, p_version bigint, p_name text, p_starts_at timestamptz,
    p_venue_name text, p_venue_city text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO bookings.event_summaries AS s
        (event_id, version, name, starts_at, venue_name, venue_city)
    VALUES (p_event_id, p_version, p_name, p_starts_at, p_venue_name, p_venue_city)
    ON CONFLICT (event_id) DO UPDATE SET
        version = excluded.version, name = excluded.name, starts_at = excluded.starts_at,
        venue_name = excluded.venue_name, venue_city = excluded.venue_city
    WHERE s.version < excluded.version
$$;
