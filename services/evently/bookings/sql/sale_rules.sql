-- Whether an event sells now: 'on_sale', or the refusal code that says why not.
CREATE OR REPLACE FUNCTION bookings.sale_state(inv bookings.inventory) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN inv.event_id IS NULL OR inv.status = 'draft' THEN 'event_not_found'
        WHEN inv.status = 'cancelled' THEN 'event_cancelled'
        WHEN inv.status = 'completed' THEN 'sale_closed'
        WHEN inv.sale_opens_at IS NOT NULL AND now() < inv.sale_opens_at THEN 'sale_not_open'
        WHEN inv.sale_closes_at IS NOT NULL AND now() >= inv.sale_closes_at THEN 'sale_closed'
        -- Without a closing time, sales end when the event does.
        WHEN now() >= coalesce(inv.ends_at, inv.starts_at, 'infinity') THEN 'sale_closed'
        ELSE 'on_sale'
    END
$$;

-- The most seats one booking (or waitlist entry) may ask for.
CREATE OR REPLACE FUNCTION bookings.max_quantity(inv bookings.inventory) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT least(coalesce(inv.max_per_user, inv.target_capacity), inv.target_capacity)
$$;

-- Whether the event's waitlist takes entries and gets offers: the organiser's setting
-- (a seated event's offers hold seats picked for the buyer: sql/promote_waitlist.sql,
-- docs/seating.md "Seated waitlist").
CREATE OR REPLACE FUNCTION bookings.waitlist_enabled(inv bookings.inventory) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT inv.waitlist_enabled
$$;

-- Details a refusal carries (problem extension members, rendered by refusals.py);
-- available is the public's (sql/kept_back.sql).
CREATE OR REPLACE FUNCTION bookings.refusal_details(inv bookings.inventory, p_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE p_code
        WHEN 'sale_not_open' THEN jsonb_build_object('sale_opens_at', inv.sale_opens_at)
        WHEN 'sale_closed' THEN jsonb_build_object('sale_closes_at',
            coalesce(inv.sale_closes_at, inv.ends_at, inv.starts_at))
        WHEN 'quantity_out_of_range' THEN jsonb_build_object(
            'min_quantity', 1, 'max_quantity', bookings.max_quantity(inv))
        WHEN 'sold_out' THEN jsonb_build_object(
            'available', greatest(bookings.public_free_seats(inv), 0),
            'waitlist_enabled', bookings.waitlist_enabled(inv))
        WHEN 'waitlist_not_needed' THEN jsonb_build_object(
            'available', greatest(bookings.public_free_seats(inv), 0))
        ELSE '{}'::jsonb
    END
$$;

CREATE OR REPLACE FUNCTION bookings.seats_owned(p_event_id bigint, p_user_id bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(quantity), 0)::integer FROM bookings.bookings
    WHERE event_id = p_event_id AND user_id = p_user_id AND status IN ('held', 'confirmed')
$$;
